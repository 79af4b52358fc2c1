// Proves the TLS settings: `juno start` takes the files only in sets that work (a certificate with its key, a client CA or peer files only with what they need, the peer certificate defaulting to the API's), writes them back out as it read them; at start every file is read and checked, and an unreadable file, one that is not PEM, a key that is not the certificate's, an expired certificate or a CA bundle without a CA is refused as bad_tls_file naming the variable and the file; the client commands read --ca, --cert and --key (and the config file's ca, cert and key, relative to the file) the same way; `juno start` stops on a bad file with one line and exit 2; and `juno dev --tls` writes its throw-away CA and certificates and prints how to trust them.

import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { devBanner } from "../../src/cli/dev.js";
import { startCommand } from "../../src/cli/start.js";
import { devNodeArguments } from "../../src/config/dev-command.js";
import { writeDevCertificates } from "../../src/tls/dev-certificates.js";
import { parseClientCommand, type ClientConnection } from "../../src/config/client-options.js";
import { defineCommand } from "../../src/config/command.js";
import { ConfigError, parseNodeConfig, toInvocation, type NodeConfig } from "../../src/config/index.js";
import { loadNodeTls } from "../../src/tls/node-tls.js";
import { certificates } from "./fixtures.js";

const certs = certificates();

/** The parsed config, failing the test on a refusal. */
function parse(argv: readonly string[], env: Record<string, string> = {}): NodeConfig {
  const config = parseNodeConfig(argv, env);
  if (config instanceof ConfigError) throw new Error(`${config.code}: ${config.message}`);
  return config;
}

/** The refusal of `argv`, failing the test when it is accepted. */
function refusal(argv: readonly string[]): ConfigError {
  const config = parseNodeConfig(argv, {});
  if (!(config instanceof ConfigError)) throw new Error("accepted");
  return config;
}

const API = ["--tls-cert", "/tls/api.crt", "--tls-key", "/tls/api.key"];

describe("the TLS settings of juno start", () => {
  it("take a certificate with its key, and refuse either alone", () => {
    expect(parse(API)).toMatchObject({ tlsCert: "/tls/api.crt", tlsKey: "/tls/api.key", peerTlsCa: null });
    expect(refusal(["--tls-cert", "/tls/api.crt"])).toMatchObject({
      code: "missing_required",
      source: "JUNO_TLS_KEY",
    });
    expect(refusal(["--tls-key", "/tls/api.key"])).toMatchObject({
      code: "missing_required",
      source: "JUNO_TLS_CERT",
    });
    expect(refusal(["--tls-client-ca", "/tls/clients.crt"])).toMatchObject({
      code: "missing_required",
      source: "JUNO_TLS_CERT",
    });
  });

  it("turn peer TLS on with the cluster CA, presenting the API's certificate unless the peer one is given", () => {
    expect(parse([...API, "--peer-tls-ca", "/tls/ca.crt"])).toMatchObject({
      peerTlsCa: "/tls/ca.crt",
      peerTlsCert: "/tls/api.crt",
      peerTlsKey: "/tls/api.key",
    });
    const own = [
      "--peer-tls-cert",
      "/tls/peer.crt",
      "--peer-tls-key",
      "/tls/peer.key",
      "--peer-tls-ca",
      "/tls/ca.crt",
    ];
    expect(parse([...API, ...own])).toMatchObject({
      peerTlsCert: "/tls/peer.crt",
      peerTlsKey: "/tls/peer.key",
    });
    expect(refusal(["--peer-tls-ca", "/tls/ca.crt"])).toMatchObject({
      code: "missing_required",
      source: "JUNO_PEER_TLS_CERT",
    });
    expect(refusal(["--peer-tls-cert", "/tls/peer.crt", "--peer-tls-key", "/tls/peer.key"])).toMatchObject({
      code: "missing_required",
      source: "JUNO_PEER_TLS_CA",
    });
    // A peer certificate given alone is never paired with the API's key.
    expect(
      refusal([...API, "--peer-tls-cert", "/tls/peer.crt", "--peer-tls-ca", "/tls/ca.crt"]),
    ).toMatchObject({
      code: "missing_required",
      source: "JUNO_PEER_TLS_KEY",
    });
  });

  it("are written back out by toInvocation as they were read", () => {
    for (const argv of [
      API,
      [...API, "--tls-client-ca", "/tls/clients.crt", "--peer-tls-ca", "/tls/ca.crt"],
      ["--peer-tls-cert", "/p.crt", "--peer-tls-key", "/p.key", "--peer-tls-ca", "/ca.crt"],
    ]) {
      const config = parse(argv);
      const invocation = toInvocation(config);
      expect(parse(invocation.argv, invocation.env)).toEqual(config);
    }
  });
});

/** A reader over in-memory files; anything else does not exist. */
function reader(files: Record<string, string>): (path: string) => string {
  return (path) => {
    if (!Object.hasOwn(files, path)) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
    return files[path]!;
  };
}

const GOOD = {
  "/tls/member.crt": certs.member.certPem,
  "/tls/member.key": certs.member.keyPem,
  "/tls/ca.crt": certs.ca.certPem,
};

/** loadNodeTls's verdict on a config of `argv` over `files`. */
function load(argv: readonly string[], files: Record<string, string>) {
  return loadNodeTls(parse(argv), new Date(), reader(files));
}

const FULL = [
  "--tls-cert",
  "/tls/member.crt",
  "--tls-key",
  "/tls/member.key",
  "--tls-client-ca",
  "/tls/ca.crt",
  "--peer-tls-ca",
  "/tls/ca.crt",
];

describe("the TLS files, read at start", () => {
  it("are loaded when they are good", () => {
    const material = load(FULL, GOOD);
    if (material instanceof ConfigError) throw material;
    expect(material.api?.keyPair.subject).toBe("CN=member");
    expect(material.api?.clientCa).toBe(certs.ca.certPem);
    expect(material.peer?.ca).toBe(certs.ca.certPem);
    expect(load([], {})).toEqual({ api: null, peer: null });
  });

  it.each([
    [
      "a missing file",
      { ...GOOD, "/tls/member.key": undefined },
      "JUNO_TLS_KEY",
      /member\.key cannot be read: ENOENT/,
    ],
    ["a file that is not PEM", { ...GOOD, "/tls/member.crt": "hello" }, "JUNO_TLS_CERT", /is not PEM/],
    [
      "a key that is not the certificate's",
      { ...GOOD, "/tls/member.crt": certs.foreign.certPem, "/tls/member.key": certs.ca.keyPem },
      "JUNO_TLS_KEY",
      /is not the private key of the certificate in \/tls\/member\.crt/,
    ],
    [
      "an expired certificate",
      { ...GOOD, "/tls/member.crt": certs.expired.certPem },
      "JUNO_TLS_CERT",
      /expired on \d{4}-/,
    ],
    [
      "a CA bundle holding no CA",
      { ...GOOD, "/tls/ca.crt": certs.member.certPem },
      "JUNO_TLS_CLIENT_CA",
      /not a CA/,
    ],
    [
      "a key file holding a certificate",
      { ...GOOD, "/tls/member.key": certs.member.certPem },
      "JUNO_TLS_KEY",
      /not a private key/,
    ],
  ])("refuse %s as bad_tls_file, naming the variable and the file", (_what, files, source, message) => {
    const present = Object.fromEntries(
      Object.entries(files).filter(([, text]) => text !== undefined),
    ) as Record<string, string>;
    const refused = load(FULL, present);
    expect(refused).toBeInstanceOf(ConfigError);
    expect(refused).toMatchObject({ code: "bad_tls_file", source });
    expect((refused as ConfigError).message).toMatch(message);
    // Never a key's contents.
    expect((refused as ConfigError).message).not.toContain("PRIVATE KEY");
  });
});

const COMMAND = defineCommand({ name: "example", summary: "A client command.", options: {} });

/** The connection a client command gets from `argv` and `env` over in-memory files. */
function connection(argv: readonly string[], env: Record<string, string>, files: Record<string, string>) {
  const parsed = parseClientCommand(COMMAND, argv, env, {
    readFile: (path) => (Object.hasOwn(files, path) ? files[path]! : null),
  });
  return parsed instanceof Error ? parsed : (parsed.connection satisfies ClientConnection);
}

describe("the TLS files of the client commands", () => {
  const pem = {
    "/ca.pem": certs.ca.certPem,
    "/me.crt": certs.client.certPem,
    "/me.key": certs.client.keyPem,
  };

  it("read --ca, --cert and --key (or their variables) as PEM text", () => {
    expect(connection(["--ca", "/ca.pem"], {}, pem)).toMatchObject({
      tls: { ca: certs.ca.certPem, cert: null, key: null },
    });
    expect(
      connection(
        [],
        { JUNO_CA_FILE: "/ca.pem", JUNO_CLIENT_CERT: "/me.crt", JUNO_CLIENT_KEY: "/me.key" },
        pem,
      ),
    ).toMatchObject({
      tls: { ca: certs.ca.certPem, cert: certs.client.certPem, key: certs.client.keyPem },
    });
    expect(connection([], {}, pem)).not.toHaveProperty("tls");
  });

  it("refuse a certificate without its key, and a file that is missing or not PEM", () => {
    expect(connection(["--cert", "/me.crt"], {}, pem)).toMatchObject({ code: "missing_required" });
    expect(connection(["--ca", "/nowhere.pem"], {}, pem)).toMatchObject({ code: "bad_tls_file" });
    const notPem = connection(["--ca", "/me.txt"], {}, { "/me.txt": "not pem" });
    expect(notPem).toMatchObject({ code: "bad_tls_file" });
    expect((notPem as Error).message).toMatch(/--ca \(JUNO_CA_FILE\): \/me\.txt is not PEM/);
  });

  it("take ca, cert and key from the config file, relative to its directory, for https:// nodes", () => {
    const file = "/home/ann/.config/juno/config.json";
    const files = {
      [file]: JSON.stringify({
        current: "prod",
        contexts: {
          prod: { nodes: ["https://juno.example:8443"], ca: "prod-ca.pem", cert: "/me.crt", key: "/me.key" },
        },
      }),
      "/home/ann/.config/juno/prod-ca.pem": certs.ca.certPem,
      ...pem,
    };
    expect(connection([], { HOME: "/home/ann" }, files)).toMatchObject({
      urls: ["https://juno.example:8443"],
      tls: { ca: certs.ca.certPem, cert: certs.client.certPem },
    });
    // A flag's certificate never pairs with the file's key.
    expect(connection(["--cert", "/me.crt"], { HOME: "/home/ann" }, files)).toMatchObject({
      code: "missing_required",
    });
    const broken = { [file]: JSON.stringify({ ca: 7 }) };
    expect(connection([], { HOME: "/home/ann" }, broken)).toMatchObject({ code: "bad_config_file" });
  });
});

describe("juno start with TLS files that cannot serve", () => {
  it("exits 2 with the code, the variable and the file on one line, before it binds anything", async () => {
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((text) => {
      written.push(String(text));
      return true;
    });
    try {
      const code = await startCommand(
        [
          "--http",
          "127.0.0.1:1",
          "--raft",
          "127.0.0.1:2",
          "--tls-cert",
          "/nope/tls.crt",
          "--tls-key",
          "/nope/tls.key",
        ],
        {},
      );
      expect(code).toBe(2);
    } finally {
      spy.mockRestore();
    }
    expect(written.join("")).toMatch(
      /^juno: error \[bad_tls_file\]: --tls-cert \(JUNO_TLS_CERT\): \/nope\/tls\.crt cannot be read: ENOENT[^\n]*\n$/,
    );
  });
});

describe("juno dev --tls", () => {
  it("writes a CA, a certificate per node for loopback and a client certificate, keys private, and prints how to trust the CA", () => {
    const dir = mkdtempSync(join(tmpdir(), "juno-dev-tls-"));
    try {
      const files = writeDevCertificates(join(dir, "tls"), ["n1"]);
      const node = files.nodes.get("n1")!;
      const material = loadNodeTls({
        tlsCert: node.cert,
        tlsKey: node.key,
        tlsClientCa: files.ca,
        peerTlsCert: node.cert,
        peerTlsKey: node.key,
        peerTlsCa: files.ca,
      });
      if (material instanceof ConfigError) throw material;
      expect(material.api?.keyPair.subjectAltName).toBe(
        "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1",
      );
      expect(statSync(node.key).mode & 0o777).toBe(0o600);
      expect(statSync(files.client.key).mode & 0o777).toBe(0o600);
      expect(readdirSync(files.dir).sort()).toEqual([
        "ca.crt",
        "client.crt",
        "client.key",
        "n1.crt",
        "n1.key",
      ]);
      const banner = devBanner([{ id: "n1", httpPort: 8443, raftPort: 9443 }], dir, "token", files);
      expect(banner).toContain("export JUNO_NODES=https://127.0.0.1:8443");
      expect(banner).toContain(`export JUNO_CA_FILE=${files.ca}`);
      expect(banner).toContain(`curl -s --cacert ${files.ca}`);
      expect(
        devNodeArguments({ id: "n1", httpPort: 8443, raftPort: 9443 }, [], dir, { ...node, ca: files.ca }),
      ).toEqual(
        expect.arrayContaining([
          `--tls-cert=${node.cert}`,
          `--peer-tls-ca=${files.ca}`,
          `--tls-client-ca=${files.ca}`,
        ]),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
