// Proves that derived ids are laid out as version-8 UUIDs,
// the same for the same inputs and different for different ones, and that RFC 3339 times and
// trigger rules compute what they say.

import { describe, expect, it } from "vitest";
import { decideTrigger, derivedUuid, parseRfc3339, utf8Length } from "../../src/workflows/index.js";

describe("utf8Length", () => {
  it("counts UTF-8 bytes", () => {
    expect(utf8Length("aé€😀")).toBe(1 + 2 + 3 + 4);
  });
});

describe("derivedUuid", () => {
  it("is a version-8 UUID, stable, and different per key", () => {
    const id = derivedUuid("wf-1", "wf-1:build:1");
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(derivedUuid("wf-1", "wf-1:build:1")).toBe(id);
    expect(derivedUuid("wf-1", "wf-1:build:2")).not.toBe(id);
    expect(derivedUuid("wf-2", "wf-1:build:1")).not.toBe(id);
  });
});

describe("parseRfc3339", () => {
  it("agrees with Date.parse on valid times", () => {
    for (const text of [
      "1970-01-01T00:00:00Z",
      "2030-01-01T00:00:00.5+01:00",
      "2024-02-29T23:59:59.999-05:30",
      "1969-12-31T23:59:59Z",
      "2000-03-01t12:00:00z",
    ]) {
      expect(parseRfc3339(text), text).toBe(Date.parse(text.toUpperCase()));
    }
  });

  it("refuses what is not a time", () => {
    for (const text of [
      "2023-02-29T00:00:00Z",
      "2030-13-01T00:00:00Z",
      "2030-01-01T24:00:00Z",
      "2030-01-01",
      "now",
    ]) {
      expect(parseRfc3339(text), text).toBeNull();
    }
  });
});

describe("decideTrigger", () => {
  it("follows each rule's good outcomes and threshold", () => {
    expect(decideTrigger("all_success", 2, ["succeeded", "running"])).toBe("wait");
    expect(decideTrigger("all_success", 2, ["succeeded", "succeeded"])).toBe("ready");
    expect(decideTrigger("all_success", 2, ["skipped", "running"])).toBe("skip");
    expect(decideTrigger("none_failed", 2, ["skipped", "succeeded"])).toBe("ready");
    expect(decideTrigger("none_failed", 2, ["cancelled", "running"])).toBe("skip");
    expect(decideTrigger("all_done", 2, ["failed", "running"])).toBe("wait");
    expect(decideTrigger("all_done", 2, ["failed", "skipped"])).toBe("ready");
    expect(decideTrigger("one_success", 1, ["running", "succeeded"])).toBe("ready");
    expect(decideTrigger("one_success", 1, ["failed", "skipped"])).toBe("skip");
    expect(decideTrigger("one_failed", 1, ["running", "failed"])).toBe("ready");
    expect(decideTrigger("one_failed", 1, ["succeeded", "succeeded"])).toBe("skip");
    expect(decideTrigger("all_success", 2, ["succeeded", "failed", "succeeded"])).toBe("ready");
    expect(decideTrigger("all_success", 0, [])).toBe("ready");
  });
});
