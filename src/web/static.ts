/**
 * The dashboard's files at /ui: the bundle `npm run build:ui` writes (scripts/build-ui.ts), served
 * without a token (the page asks for one) and kept out of the OpenAPI document. Without a bundle,
 * /ui answers a 503 page that says how to build one, and the node runs on regardless.
 */

import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply } from "fastify";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Where the bundle is: dist/web/public under the package root, which is two levels above this file
 * both as source (src/web/static.ts, under tsx) and compiled (dist/web/static.js). Its own folder,
 * since tsc writes the server's compiled src/web into dist/web, and those files are not the page's.
 */
export function defaultBundleDirectory(): string {
  return join(fileURLToPath(new URL("../../", import.meta.url)), "dist", "web", "public");
}

/** The page itself. */
const INDEX = "index.html";
/** Names of the bundle's files: flat, no dot files, no paths. */
const FILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/**
 * Scripts and styles from this node only; data from any member (the page follows the cluster
 * when its own node dies). No inline script, no framing, no referrer.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self' http: https:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const route = { config: { public: true }, schema: { hide: true } } as const;

/** Serves the bundle in `directory` at /ui and /ui/*. */
export async function registerStatic(app: FastifyInstance, directory: string): Promise<void> {
  // serve: false: only reply.sendFile, from the routes below, so nothing outside the bundle's
  // flat list of files is ever served, and a missing directory is no error at startup. The build
  // writes brotli and gzip copies beside each file; a browser that takes them gets those.
  await app.register(fastifyStatic, { serve: false, decorateReply: true, preCompressed: true });
  // Relative, so a proxy that mounts the node under a path prefix keeps it.
  app.get("/ui", route, (_request, reply) => reply.redirect("ui/", 302));
  app.get<{ Params: { "*": string } }>("/ui/*", route, (request, reply) => {
    const name = request.params["*"] === "" ? INDEX : request.params["*"];
    if (!existsSync(join(directory, INDEX))) return notBuilt(reply);
    if (!FILE_NAME.test(name)) return reply.callNotFound();
    if (name === INDEX) void reply.header("content-security-policy", CONTENT_SECURITY_POLICY);
    // Fixed names (no content hash): the browser revalidates each load, answered 304 by etag.
    return reply
      .header("cache-control", "no-cache")
      .header("x-content-type-options", "nosniff")
      .header("referrer-policy", "no-referrer")
      .sendFile(name, directory);
  });
}

function notBuilt(reply: FastifyReply): FastifyReply {
  return reply
    .code(503)
    .type("text/html; charset=utf-8")
    .header("cache-control", "no-store")
    .send(
      [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8"><title>juno dashboard not built</title></head>',
        "<body><h1>The dashboard is not built</h1>",
        "<p>This node found no dashboard bundle. Run <code>npm run build:ui</code> (or <code>npm run build</code>)",
        "in the juno package and reload this page. The API is unaffected.</p></body></html>",
      ].join("\n"),
    );
}
