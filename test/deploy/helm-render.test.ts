// Proves that the test renderer for the Helm chart (helm-render.ts) does what Helm does for the subset the chart uses: trimming, conditionals, ranges over lists and maps, variables and their scopes, defined templates, pipelines and the functions, and that it refuses what lies outside the subset instead of rendering it differently.

import { describe, expect, it } from "vitest";
import { mergeValues, renderText } from "./helm-render.js";

const data = {
  Values: {
    name: "juno",
    replicas: 5,
    on: true,
    off: false,
    empty: "",
    list: ["a", "b"],
    map: { b: 2, a: 1 },
    nested: { port: 8080, labels: { app: "juno" } },
  },
  Release: { Name: "rel", Namespace: "ns" },
};

const render = (source: string) => renderText(source, data);

describe("the Helm template subset", () => {
  it("prints values and trims white space at {{- and -}}", () => {
    expect(render("a {{ .Values.name }} b")).toBe("a juno b");
    expect(render("a  \n  {{- .Values.name -}}  \n b")).toBe("ajunob");
    expect(render("x{{/* a comment */}}y")).toBe("xy");
    expect(render("x\n{{- /* trimmed */ -}}\ny")).toBe("xy");
    expect(render("{{ .Values.missing }}|")).toBe("|");
  });

  it("branches with if / else if / else and with, by Go's truth", () => {
    const branch =
      "{{ if .Values.off }}1{{ else if .Values.empty }}2{{ else if .Values.list }}3{{ else }}4{{ end }}";
    expect(render(branch)).toBe("3");
    expect(render("{{ if .Values.map }}y{{ end }}{{ if dict }}n{{ end }}")).toBe("y");
    expect(render("{{ with .Values.nested }}{{ .port }}{{ end }}")).toBe("8080");
    expect(render("{{ with .Values.off }}x{{ else }}none{{ end }}")).toBe("none");
  });

  it("ranges over lists and over maps in key order, with else when empty", () => {
    expect(render("{{ range .Values.list }}[{{ . }}]{{ end }}")).toBe("[a][b]");
    expect(render("{{ range $i, $v := .Values.list }}{{ $i }}={{ $v }};{{ end }}")).toBe("0=a;1=b;");
    expect(render("{{ range $k, $v := .Values.map }}{{ $k }}={{ $v }};{{ end }}")).toBe("a=1;b=2;");
    expect(render("{{ range .Values.missing }}x{{ else }}empty{{ end }}")).toBe("empty");
  });

  it("scopes variables to their block, lets = assign an outer one, and keeps $ as the root", () => {
    expect(render('{{ $x := "a" }}{{ if true }}{{ $x = "b" }}{{ $y := 1 }}{{ end }}{{ $x }}')).toBe("b");
    expect(() => render("{{ if true }}{{ $y := 1 }}{{ end }}{{ $y }}")).toThrow("undefined variable $y");
    expect(render("{{ range .Values.list }}{{ $.Release.Name }}{{ end }}")).toBe("relrel");
  });

  it("defines templates and includes them with their own dot", () => {
    const source = '{{- define "n" -}}{{ .Release.Name }}-{{ .Values.name }}{{- end -}}';
    expect(render(`${source}{{ include "n" . }}|{{ template "n" . }}`)).toBe("rel-juno|rel-juno");
    expect(render(`${source}{{ include "n" . | quote }}`)).toBe('"rel-juno"');
  });

  it("has the functions the chart uses, as Sprig defines them", () => {
    expect(render("{{ .Values.nested | toYaml | nindent 2 }}")).toBe(
      "\n  port: 8080\n  labels:\n    app: juno",
    );
    expect(render('{{ "a\\nb" | indent 2 }}')).toBe("  a\n  b");
    expect(render("{{ quote .Values.replicas }} {{ quote .Values.missing }}.")).toBe('"5" .');
    expect(render('{{ .Values.empty | default "d" }} {{ .Values.name | default "d" }}')).toBe("d juno");
    expect(render('{{ printf "%s-%d-%v" .Values.name 3 true }}')).toBe("juno-3-true");
    expect(render('{{ "abcdef" | trunc 3 }} {{ "name-" | trimSuffix "-" }} {{ "juno" | b64enc }}')).toBe(
      "abc name anVubw==",
    );
    expect(render('{{ eq .Values.name "juno" }} {{ ne 1 2 }} {{ eq "a" "b" "a" }}')).toBe("true true true");
    expect(render('{{ and 1 "" 2 }}|{{ or "" 0 "x" }}|{{ not .Values.off }}')).toBe("|x|true");
    expect(render('{{ int "42" }} {{ join "," .Values.list }} {{ index .Values.map "a" }}')).toBe("42 a,b 1");
    expect(
      render('{{ $d := dict "k" "v" }}{{ $d.k }} {{ index (lookup "v1" "Secret" "ns" "x") "data" }}.'),
    ).toBe("v .");
    expect(render('{{ (dict "a" (dict "b" 7)).a.b }}')).toBe("7");
    expect(renderText("{{ randAlphaNum 12 }}", data, 7)).toMatch(/^[A-Za-z0-9]{12}$/);
    expect(renderText("{{ randAlphaNum 12 }}", data, 7)).toBe(renderText("{{ randAlphaNum 12 }}", data, 7));
  });

  it("fails where Helm fails: required, fail, a field of nil, printing a map, comparing kinds", () => {
    expect(() => render('{{ required "give a name" .Values.missing }}')).toThrow("give a name");
    expect(() => render('{{ fail "no" }}')).toThrow("no");
    expect(() => render("{{ .Values.missing.field }}")).toThrow("nil pointer");
    expect(() => render("{{ .Values.map }}")).toThrow("use toYaml");
    expect(() => render('{{ eq .Values.replicas "5" }}')).toThrow("incompatible types");
  });

  it("refuses what is outside the subset", () => {
    expect(() => render("{{ upper .Values.name }}")).toThrow("outside the renderer's subset");
    expect(() => render('{{ block "x" . }}{{ end }}')).toThrow("outside the renderer's subset");
    expect(() => render("{{ if true }}unclosed")).toThrow("without end");
  });

  it("merges values as Helm does: maps deep, lists and scalars replaced, null removing", () => {
    expect(mergeValues({ a: { b: 1, c: 2 }, l: [1, 2], d: 1 }, { a: { b: 3 }, l: [9], d: null })).toEqual({
      a: { b: 3, c: 2 },
      l: [9],
    });
  });
});
