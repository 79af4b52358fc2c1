/**
 * A time-series chart (uPlot, canvas), sized to its container. uPlot draws on a canvas, so the
 * chart also carries a text summary of its latest values for screen readers.
 */

import { markup } from "./markup.js";
import type { VNode } from "preact";
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";

/** One line of a chart. */
export interface Line {
  readonly label: string;
  /** A CSS colour. */
  readonly stroke: string;
  readonly unit: string;
}

/** A chart of `lines` over `times` (seconds since the epoch); values[i] is line i's points. */
export interface ChartProps {
  readonly title: string;
  readonly lines: readonly Line[];
  readonly times: readonly number[];
  readonly values: readonly (readonly (number | null)[])[];
  readonly height?: number;
}

export function Chart({ title, lines, times, values, height = 200 }: ChartProps): VNode {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const data = [times, ...values] as unknown as uPlot.AlignedData;

  useEffect(() => {
    const element = host.current;
    if (element === null) return;
    const chart = new uPlot(
      {
        width: Math.max(200, element.clientWidth),
        height,
        legend: { show: true, live: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (_u, min, max) => [0, Math.max(1, max, min)] } },
        axes: [{ stroke: "#5b6472" }, { stroke: "#5b6472", size: 56 }],
        series: [
          {},
          ...lines.map((line) => ({
            label: line.label,
            stroke: line.stroke,
            width: 2,
            spanGaps: true,
            value: (_u: uPlot, v: number | null) => (v === null ? "—" : `${round(v)} ${line.unit}`),
          })),
        ],
      },
      data,
      element,
    );
    plot.current = chart;
    const resize = new ResizeObserver(() =>
      chart.setSize({ width: Math.max(200, element.clientWidth), height }),
    );
    resize.observe(element);
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = null;
    };
    // The chart is built once per set of lines; new points go through setData below.
  }, [lines.map((line) => line.label).join("|"), height]);

  useEffect(() => {
    plot.current?.setData(data);
  });

  const latest = lines
    .map((line, i) => `${line.label}: ${formatLatest(values[i] ?? [], line.unit)}`)
    .join(", ");
  return markup`<figure class="chart" aria-label=${title}>
    <figcaption>${title}</figcaption>
    <div class="chart-canvas" ref=${host} role="img" aria-label=${`${title}. Latest ${latest}`}></div>
    <p class="visually-hidden">${latest}</p>
  </figure>`;
}

function formatLatest(points: readonly (number | null)[], unit: string): string {
  for (let i = points.length - 1; i >= 0; i--) {
    const value = points[i];
    if (value !== null && value !== undefined) return `${round(value)} ${unit}`;
  }
  return "no data yet";
}

function round(value: number): string {
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}
