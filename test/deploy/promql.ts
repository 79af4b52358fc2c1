/**
 * Enough of PromQL and of the Prometheus text format to check dashboards and alert rules against
 * what a node exports: the metric names an expression reads, its label matchers, and the series
 * names and labels of a /metrics page.
 */

/** Words of PromQL that are not metric names. */
const KEYWORDS = new Set([
  "and",
  "or",
  "unless",
  "bool",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "offset",
  "inf",
  "nan",
]);

/** The metric names an expression selects (functions, aggregations, labels and keywords left out). */
export function metricNames(expression: string): string[] {
  const text = expression
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
    .replace(/\boffset\s+-?[0-9a-z]+/g, " ");
  const names = new Set<string>();
  for (const match of text.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const name = match[0];
    const before = text[match.index - 1] ?? "";
    // The exponent of a number such as 1.8e9, not a name.
    if (/[0-9.]/.test(before)) continue;
    if (KEYWORDS.has(name.toLowerCase())) continue;
    // A function or an aggregation: sum(...), rate(...), histogram_quantile(...).
    if (/^\s*\(/.test(text.slice(match.index + name.length))) continue;
    names.add(name);
  }
  return [...names];
}

/** A label matcher of a selector: `metric{label op "value"}`. */
export interface Matcher {
  readonly metric: string;
  readonly label: string;
  readonly operator: "=" | "!=" | "=~" | "!~";
  readonly value: string;
}

/** Every label matcher in the expression, with the metric it selects on. */
export function matchers(expression: string): Matcher[] {
  const found: Matcher[] = [];
  for (const selector of expression.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)\s*\{([^}]*)\}/g)) {
    for (const matcher of selector[2]!.matchAll(
      /([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g,
    )) {
      found.push({
        metric: selector[1]!,
        label: matcher[1]!,
        operator: matcher[2] as Matcher["operator"],
        value: matcher[3]!,
      });
    }
  }
  return found;
}

/** What a /metrics page exports: series names, and for each the labels and values seen. */
export interface Exposition {
  /** Every name a query may select: counters and gauges as named, histograms' _bucket, _sum, _count. */
  readonly series: ReadonlySet<string>;
  /** For each series name, label name -> the values it was seen with. */
  readonly labels: ReadonlyMap<string, ReadonlyMap<string, ReadonlySet<string>>>;
}

/** Reads the Prometheus text format. */
export function parseExposition(text: string): Exposition {
  const series = new Set<string>();
  const labels = new Map<string, Map<string, Set<string>>>();
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type !== null) {
      const [, name, kind] = type;
      const names =
        kind === "histogram"
          ? ["_bucket", "_sum", "_count"]
          : kind === "summary"
            ? ["", "_sum", "_count"]
            : [""];
      for (const suffix of names) series.add(name! + suffix);
      continue;
    }
    const sample = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (sample === null) continue;
    const byLabel = labels.get(sample[1]!) ?? new Map<string, Set<string>>();
    labels.set(sample[1]!, byLabel);
    for (const pair of (sample[2] ?? "").matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      const values = byLabel.get(pair[1]!) ?? new Set<string>();
      byLabel.set(pair[1]!, values);
      values.add(pair[2]!);
    }
  }
  return { series, labels };
}
