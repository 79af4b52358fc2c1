// Proves that templates parse and resolve as documented: a whole-string template keeps the
// referenced value's JSON type, embedded ones are stringified, missing references become null
// (or nothing) and are reported, and keys such as __proto__ stay plain data.

import { describe, expect, it } from "vitest";
import type { JsonValue } from "../../src/control/index.js";
import {
  isSyntaxError,
  parseTemplate,
  resolveTemplates,
  walkPath,
  type Reference,
  type TemplateScope,
} from "../../src/workflows/index.js";

const data: Record<string, JsonValue> = {
  input: { repo: "juno", count: 3, flag: true, tags: ["a", "b"], nested: { deep: { x: 1 } }, nothing: null },
  steps: { build: { output: { image: "juno:1", layers: [10, 20] } } },
};
const scope: TemplateScope = {
  lookup: (reference: Reference) => walkPath(data[reference.root], reference.path),
};

describe("parseTemplate", () => {
  it("cuts a string into literal text and references", () => {
    const parsed = parseTemplate("image {{ steps.build.output.image }} of {{input.repo}}!");
    expect(isSyntaxError(parsed)).toBe(false);
    if (isSyntaxError(parsed)) return;
    expect(parsed.whole).toBeNull();
    expect(parsed.parts).toEqual([
      "image ",
      { root: "steps", path: ["build", "output", "image"], text: "steps.build.output.image" },
      " of ",
      { root: "input", path: ["repo"], text: "input.repo" },
      "!",
    ]);
  });

  it("knows a whole-string template", () => {
    const parsed = parseTemplate("{{input.tags[1]}}");
    expect(!isSyntaxError(parsed) && parsed.whole).toEqual({
      root: "input",
      path: ["tags", "1"],
      text: "input.tags[1]",
    });
    const spaced = parseTemplate(" {{input.tags}}");
    expect(!isSyntaxError(spaced) && spaced.whole).toBeNull();
  });

  it("refuses what is not a reference", () => {
    for (const text of [
      "{{input",
      "{{}}",
      "{{ 9lives }}",
      "{{input..x}}",
      "{{input[x]}}",
      "{{a b}}",
      "{{input.}}",
    ]) {
      expect(isSyntaxError(parseTemplate(text)), text).toBe(true);
    }
  });
});

describe("resolveTemplates", () => {
  it("keeps the JSON type of a whole-string template", () => {
    const { value, missing } = resolveTemplates(
      {
        n: "{{input.count}}",
        b: "{{input.flag}}",
        list: "{{input.tags}}",
        obj: "{{input.nested}}",
        nil: "{{input.nothing}}",
        item: "{{steps.build.output.layers.1}}",
      },
      scope,
    );
    expect(value).toEqual({ n: 3, b: true, list: ["a", "b"], obj: { deep: { x: 1 } }, nil: null, item: 20 });
    expect(missing).toEqual([]);
  });

  it("stringifies embedded templates", () => {
    const { value } = resolveTemplates(
      [
        "n={{input.count}} b={{input.flag}} l={{input.tags}} o={{input.nested.deep}} nil=[{{input.nothing}}] {{input.repo}}",
      ],
      scope,
    );
    expect(value).toEqual(['n=3 b=true l=["a","b"] o={"x":1} nil=[] juno']);
  });

  it("turns missing references into null (whole) or nothing (embedded), and reports each once", () => {
    const { value, missing } = resolveTemplates(
      { a: "{{input.ghost}}", b: "x{{input.ghost}}y", c: "{{input.tags.5}}", d: "{{input.repo.length}}" },
      scope,
    );
    expect(value).toEqual({ a: null, b: "xy", c: null, d: null });
    expect(missing).toEqual(["input.ghost", "input.tags.5", "input.repo.length"]);
  });

  it("leaves values without templates alone, and keeps __proto__ keys as data", () => {
    const template = JSON.parse(
      '{"__proto__": {"x": "{{input.repo}}"}, "k": [1, "plain", null]}',
    ) as JsonValue;
    const { value } = resolveTemplates(template, scope);
    expect(Object.hasOwn(value as object, "__proto__")).toBe(true);
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(JSON.stringify(value)).toBe('{"__proto__":{"x":"juno"},"k":[1,"plain",null]}');
  });
});

describe("walkPath", () => {
  it("reads own keys and canonical array indexes only", () => {
    const value = JSON.parse('{"a": [1, 2], "o": {}}') as JsonValue;
    expect(walkPath(value, ["a", "1"])).toBe(2);
    expect(walkPath(value, ["a", "01"])).toBeUndefined();
    expect(walkPath(value, ["a", "length"])).toBeUndefined();
    expect(walkPath(value, ["o", "toString"])).toBeUndefined();
    expect(walkPath(value, ["o", "__proto__"])).toBeUndefined();
  });
});
