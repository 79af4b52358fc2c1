/**
 * Token secrets and the tokens file. A secret made by the API is `juno_` and 32 random bytes in
 * base64url; only its SHA-256 digest is kept anywhere. The tokens file (JUNO_TOKENS_FILE,
 * --tokens-file) is a JSON or YAML list read once when the node starts:
 *
 *   - name: ci                 # unique in the file; its token id is "file:ci"
 *     role: operator           # admin | operator | reader | agent
 *     token_sha256: 9f86d0...  # or `token: <the secret itself>`, at least 16 characters
 *   - name: indexer-7
 *     role: agent
 *     agent_id: 7d1f0a52-...   # required for agent tokens
 *     token: ...
 *     expires_at: 2026-01-01T00:00:00Z
 *
 * File tokens are this node's, not replicated: mount the same file on every member (a forwarded
 * request is authenticated again by the leader, so it must know the token too).
 */

import { createHash, randomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import Type from "typebox";
import { Compile } from "typebox/compile";
import { parse as parseYaml } from "yaml";
import { ConfigError } from "../config/errors.js";
import type { TokenRole } from "../server/authorization.js";
import { MAX_TOKEN_NAME_LENGTH, TOKEN_NAME_PATTERN } from "./state.js";

/** What every secret the API makes starts with, so a leaked one is easy to recognise (and scan for). */
export const TOKEN_PREFIX = "juno_";
/** Random bytes in a secret the API makes. */
export const TOKEN_SECRET_BYTES = 32;
/** The shortest secret the tokens file may hold in clear. */
export const FILE_TOKEN_LENGTH_MIN = 16;
/** The largest tokens file read. */
export const TOKENS_FILE_BYTES_MAX = 1024 * 1024;
/** Tokens one file may hold. */
export const FILE_TOKENS_MAX = 10_000;

/** A fresh secret: the prefix and 32 random bytes, base64url. */
export function newTokenSecret(): string {
  return TOKEN_PREFIX + randomBytes(TOKEN_SECRET_BYTES).toString("base64url");
}

/** The SHA-256 digest of a secret, lower-case hex: what the state and the file index keep. */
export function secretDigest(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** A token from the tokens file. */
export interface FileToken {
  readonly name: string;
  readonly role: TokenRole;
  /** SHA-256 of the secret, lower-case hex. */
  readonly digest: string;
  readonly agentId: string | null;
  readonly expiresAtMs: number | null;
}

/** Why the tokens file cannot be used; the message names the file and the entry, never a secret. */
export class TokensFileError extends Error {
  override name = "TokensFileError";
}

const Uuid = Type.String({
  pattern: "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
});

const FileEntry = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: MAX_TOKEN_NAME_LENGTH, pattern: TOKEN_NAME_PATTERN }),
    role: Type.Union([
      Type.Literal("admin"),
      Type.Literal("operator"),
      Type.Literal("reader"),
      Type.Literal("agent"),
    ]),
    // Printable ASCII without spaces: what fits an Authorization header as it is.
    token: Type.Optional(
      Type.String({ minLength: FILE_TOKEN_LENGTH_MIN, maxLength: 1024, pattern: "^[\\x21-\\x7e]+$" }),
    ),
    token_sha256: Type.Optional(Type.String({ pattern: "^[0-9a-fA-F]{64}$" })),
    agent_id: Type.Optional(Uuid),
    expires_at: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  },
  { additionalProperties: false },
);
const fileEntry = Compile(FileEntry);

/** Reads and checks the tokens file at `path`; throws TokensFileError naming what is wrong. */
export function readTokensFile(path: string): FileToken[] {
  let text: string;
  try {
    if (statSync(path).size > TOKENS_FILE_BYTES_MAX)
      throw new TokensFileError(`${path} is larger than ${TOKENS_FILE_BYTES_MAX} bytes`);
    text = readFileSync(path, "utf8");
  } catch (error) {
    if (error instanceof TokensFileError) throw error;
    throw new TokensFileError(`${path} cannot be read: ${(error as Error).message}`);
  }
  return parseTokensFile(text, path);
}

/** Parses the text of a tokens file (JSON or YAML); `where` names it in errors. */
export function parseTokensFile(text: string, where: string): FileToken[] {
  let value: unknown;
  try {
    // YAML 1.2 reads JSON as it is; keys are unique and `__proto__` stays an ordinary key.
    value = parseYaml(text);
  } catch (error) {
    throw new TokensFileError(
      `${where} is neither JSON nor YAML: ${(error as Error).message.split("\n")[0]}`,
    );
  }
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value))
    throw new TokensFileError(`${where} must be a list of {name, role, token | token_sha256, ...}`);
  if (value.length > FILE_TOKENS_MAX)
    throw new TokensFileError(`${where} holds ${value.length} tokens; at most ${FILE_TOKENS_MAX}`);
  const names = new Set<string>();
  const digests = new Set<string>();
  return value.map((entry: unknown, at) => {
    const token = fileToken(entry, `${where}, entry ${at + 1}`);
    if (names.has(token.name)) throw new TokensFileError(`${where}: the name ${token.name} is given twice`);
    if (digests.has(token.digest))
      throw new TokensFileError(`${where}: ${token.name} has the same secret as another entry`);
    names.add(token.name);
    digests.add(token.digest);
    return token;
  });
}

function fileToken(entry: unknown, where: string): FileToken {
  if (!fileEntry.Check(entry)) {
    const error = fileEntry.Errors(entry)[0];
    const field = error === undefined || error.instancePath === "" ? "" : ` ${error.instancePath.slice(1)}`;
    // Never quote the value: it may be a secret.
    throw new TokensFileError(`${where}:${field} ${error?.message ?? "is not a token entry"}`);
  }
  const checked = entry;
  if ((checked.token === undefined) === (checked.token_sha256 === undefined))
    throw new TokensFileError(`${where} (${checked.name}): give exactly one of token and token_sha256`);
  if ((checked.role === "agent") !== (checked.agent_id !== undefined))
    throw new TokensFileError(
      `${where} (${checked.name}): agent_id is required for agent tokens, and only for them`,
    );
  let expiresAtMs: number | null = null;
  if (checked.expires_at !== undefined) {
    expiresAtMs = Date.parse(checked.expires_at);
    if (!Number.isFinite(expiresAtMs))
      throw new TokensFileError(`${where} (${checked.name}): expires_at is not an ISO 8601 date and time`);
  }
  return {
    name: checked.name,
    role: checked.role,
    digest: checked.token !== undefined ? secretDigest(checked.token) : checked.token_sha256!.toLowerCase(),
    agentId: checked.agent_id ?? null,
    expiresAtMs,
  };
}

/** The tokens of the file at `path` (none for null), or the refusal `juno start` prints. */
export function loadTokensFile(path: string | null): FileToken[] | ConfigError {
  if (path === null) return [];
  try {
    return readTokensFile(path);
  } catch (error) {
    if (!(error instanceof TokensFileError)) throw error;
    return new ConfigError("bad_tokens_file", "JUNO_TOKENS_FILE", error.message);
  }
}
