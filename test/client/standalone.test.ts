// Proves the SDK stands alone, as `juno/client` promises: its files import only each other (no
// other part of juno, no node: module, no package), and they type-check with nothing but the
// ES2022 and DOM libraries, as in a project that has no @types/node.

import { readFileSync, readdirSync } from "node:fs";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const directory = new URL("../../src/client/", import.meta.url);
const files = readdirSync(directory).filter((name) => name.endsWith(".ts"));

describe("juno/client", () => {
  it("imports nothing but its own files", () => {
    expect(files).toContain("index.ts");
    for (const name of files) {
      const source = readFileSync(new URL(name, directory), "utf8");
      const imports = [...source.matchAll(/\bfrom\s+"([^"]+)"/g)].map((match) => match[1] ?? "");
      for (const specifier of imports) expect(specifier, name).toMatch(/^\.\/[a-z-]+\.js$/);
    }
  });

  it("type-checks with only the ES2022 and DOM libraries", () => {
    const program = ts.createProgram([new URL("index.ts", directory).pathname], {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
      types: [],
      strict: true,
      noUncheckedIndexedAccess: true,
      noImplicitOverride: true,
      verbatimModuleSyntax: true,
      noEmit: true,
    });
    const diagnostics = ts
      .getPreEmitDiagnostics(program)
      .map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n"));
    expect(diagnostics).toEqual([]);
  });
});
