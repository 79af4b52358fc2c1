/**
 * `npm run build:ui`: bundles the dashboard (src/web/app: preact + htm, uPlot, dagre) with esbuild
 * into dist/web/public, which every node serves at /ui: app.js (ESM, minified), app.css (uPlot's
 * styles and ours), index.html, their source maps, and gzip and brotli copies of the three that a
 * browser loads (the server sends those to browsers that take them). Fixed names, no content hash: the server
 * has the browser revalidate each load. Each file is written to a temporary name and renamed into
 * place, so a node serving the folder while it is rebuilt never sends half a file.
 *
 * Also a module: the dashboard's tests build with the same function.
 */

import { build, type Metafile } from "esbuild";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const APP = join(ROOT, "src", "web", "app");

/** Where `npm run build:ui` writes (what src/web/static.ts serves by default). */
export const BUNDLE_DIRECTORY = join(ROOT, "dist", "web", "public");

/** What a build wrote. */
export interface UiBuild {
  readonly directory: string;
  /** Each file's name and size in bytes (source maps included). */
  readonly files: ReadonlyMap<string, number>;
}

/** Bundles the dashboard into `directory`. */
export async function buildUi(directory = BUNDLE_DIRECTORY): Promise<UiBuild> {
  const result = await build({
    // main.ts imports styles.css (ours, and uPlot's): esbuild writes it beside app.js as app.css.
    entryPoints: { app: join(APP, "main.ts") },
    bundle: true,
    minify: true,
    format: "esm",
    target: ["es2022", "chrome110", "firefox110", "safari16"],
    platform: "browser",
    sourcemap: "linked",
    legalComments: "eof",
    metafile: true,
    write: false,
    outdir: directory,
    logLevel: "warning",
    // No network at run time: anything the bundle would fetch from elsewhere is a build error.
    external: [],
  });
  const files = new Map<string, number>();
  mkdirSync(directory, { recursive: true });
  const write = (name: string, contents: Uint8Array): void => {
    writeAtomically(join(directory, name), contents);
    files.set(name, contents.byteLength);
    if (name.endsWith(".map")) return;
    writeAtomically(join(directory, `${name}.gz`), gzipSync(contents, { level: 9 }));
    writeAtomically(
      join(directory, `${name}.br`),
      brotliCompressSync(contents, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
    );
  };
  for (const file of result.outputFiles) write(basename(file.path), file.contents);
  write("index.html", readFileSync(join(APP, "index.html")));
  checkNoRemoteImports(result.metafile);
  return { directory, files };
}

function writeAtomically(path: string, contents: Uint8Array): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, contents);
  renameSync(temporary, path);
}

/** Every input is a file of this package or its node_modules: the page loads nothing from elsewhere. */
function checkNoRemoteImports(metafile: Metafile): void {
  for (const input of Object.keys(metafile.inputs))
    if (/^(https?:)?\/\//.test(input)) throw new Error(`the dashboard imports ${input} from the network`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const started = performance.now();
  const { directory, files } = await buildUi();
  const shown = [...files]
    .filter(([name]) => /\.(js|css|html)$/.test(name))
    .map(([name, bytes]) => `${name} ${(bytes / 1024).toFixed(1)} KiB`);
  console.log(
    `dashboard built into ${directory} in ${Math.round(performance.now() - started)} ms: ${shown.join(", ")}`,
  );
}
