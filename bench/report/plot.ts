// Latency against throughput as a small self-contained SVG: one line per scenario through its sweep points
// (p50 solid, p99 dashed), each point labelled with its concurrency. Written by hand because the chart is
// two axes and a few polylines; a charting library would bring a DOM or a browser for that.
import type { ScenarioKind, ScenarioRecord } from '../scenarios/record.js';

export interface PlotPoint {
  concurrency: number;
  throughput: number;
  p50: number;
  p99: number;
}

export interface PlotSeries {
  name: string;
  points: PlotPoint[];
}

const SWEPT: ScenarioKind[] = ['S-E2E', 'F-T-naive', 'F-T'];
const COLOURS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd'];

/** The swept scenarios, each by ascending concurrency. */
export function sweepSeries(scenarios: ScenarioRecord[]): PlotSeries[] {
  return SWEPT.map((kind) => ({
    name: kind,
    points: scenarios
      .filter((s) => s.kind === kind && s.ok > 0)
      .sort((a, b) => a.concurrency - b.concurrency)
      .map((s) => ({
        concurrency: s.concurrency,
        throughput: s.throughputPerS,
        p50: s.latencyMs.p50,
        p99: s.latencyMs.p99,
      })),
  })).filter((series) => series.points.length > 0);
}

/** Evenly spaced round ticks from 0 to at least `max` (steps of 1, 2 or 5 times a power of ten). */
export function niceTicks(max: number, target = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / target;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * power >= raw) ?? 10) * power;
  const ticks: number[] = [];
  for (let tick = 0; tick < max + step; tick += step) ticks.push(Number(tick.toPrecision(12)));
  return ticks;
}

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function latencyThroughputSvg(series: PlotSeries[], title: string): string {
  const width = 760;
  const height = 460;
  const margin = { left: 70, right: 20, top: 40, bottom: 50 };
  const all = series.flatMap((s) => s.points);
  const xTicks = niceTicks(Math.max(1, ...all.map((p) => p.throughput)));
  const yTicks = niceTicks(Math.max(1, ...all.map((p) => p.p99)));
  const xMax = xTicks[xTicks.length - 1]!;
  const yMax = yTicks[yTicks.length - 1]!;
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const x = (value: number) => (margin.left + (value / xMax) * plotW).toFixed(1);
  const y = (value: number) => (margin.top + plotH - (value / yMax) * plotH).toFixed(1);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="14">${escape(title)}</text>`,
  ];
  for (const tick of xTicks) {
    out.push(`<line x1="${x(tick)}" x2="${x(tick)}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#eee"/>`);
    out.push(`<text x="${x(tick)}" y="${margin.top + plotH + 16}" text-anchor="middle">${tick}</text>`);
  }
  for (const tick of yTicks) {
    out.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y(tick)}" y2="${y(tick)}" stroke="#eee"/>`);
    out.push(`<text x="${margin.left - 6}" y="${y(tick)}" text-anchor="end" dominant-baseline="middle">${tick}</text>`);
  }
  out.push(
    `<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
    `<text x="${margin.left + plotW / 2}" y="${height - 10}" text-anchor="middle">throughput (items/s)</text>`,
    `<text transform="translate(16 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">latency (ms): p50 solid, p99 dashed</text>`
  );
  series.forEach((s, index) => {
    const colour = COLOURS[index % COLOURS.length]!;
    const line = (pick: (p: PlotPoint) => number) => s.points.map((p) => `${x(p.throughput)},${y(pick(p))}`).join(' ');
    out.push(`<polyline points="${line((p) => p.p50)}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    out.push(
      `<polyline points="${line((p) => p.p99)}" fill="none" stroke="${colour}" stroke-width="1.5" stroke-dasharray="5 4"/>`
    );
    for (const p of s.points) {
      out.push(`<circle cx="${x(p.throughput)}" cy="${y(p.p50)}" r="3.5" fill="${colour}"/>`);
      out.push(
        `<text x="${x(p.throughput)}" y="${Number(y(p.p50)) - 7}" text-anchor="middle" fill="${colour}">C=${p.concurrency}</text>`
      );
    }
    const ly = margin.top + 16 + index * 18;
    out.push(
      `<line x1="${margin.left + 12}" x2="${margin.left + 36}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="2"/>`
    );
    out.push(`<text x="${margin.left + 42}" y="${ly}" dominant-baseline="middle">${escape(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
