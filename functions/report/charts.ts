/*
 * Charts as inline SVG, drawn from measured points only: no script, nothing fetched, so the page
 * reads the same from a mailbox link, a file on disk or a bucket. Every chart names itself
 * (data-chart), its axes (data-axis) and each point it draws (class "point", with its value in a
 * <title>), which is what the browser test counts.
 */

export const escapeHtml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

export interface Point {
  x: number;
  y: number;
  /** What the point's tooltip says. */
  label: string;
}

export interface Series {
  name: string;
  colour: string;
  points: Point[];
  /** Draw the points joined by a line (else as markers only). */
  line?: boolean;
  /** An interval around the points: the band is drawn where both ends are known. */
  band?: Array<{ x: number; low: number; high: number }>;
  /** Bars from 0 instead of markers. */
  bars?: boolean;
}

export interface Threshold {
  y: number;
  label: string;
  colour: string;
}

export interface ChartSpec {
  id: string;
  title: string;
  /** The x axis: time (ms since the epoch) from `from` to `to`. */
  from: number;
  to: number;
  yLabel: string;
  yMin?: number;
  yMax?: number;
  series: Series[];
  thresholds?: Threshold[];
  /** A category axis instead of numbers (the timeline's lanes), from the bottom up. */
  lanes?: string[];
  /** Shown when no series has a point. */
  empty: string;
}

const width = 780;
const height = 260;
const margin = { left: 64, right: 210, top: 28, bottom: 40 };
const plotWidth = width - margin.left - margin.right;
const plotHeight = height - margin.top - margin.bottom;

const round = (value: number) => Math.round(value * 10) / 10;

/** Round tick values: 1, 2 or 5 times a power of ten, about five of them. */
function niceTicks(min: number, max: number): number[] {
  if (max <= min) return [min];
  const rough = (max - min) / 5;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((factor) => factor * power).find((candidate) => candidate >= rough) ?? rough;
  const ticks: number[] = [];
  for (let tick = Math.ceil(min / step) * step; tick <= max + step * 1e-9; tick += step) ticks.push(Number(tick.toPrecision(12)));
  return ticks;
}

function tickLabel(value: number): string {
  if (Math.abs(value) >= 10_000) return `${round(value / 1000)}k`;
  return Number.isInteger(value) ? String(value) : value.toFixed(Math.abs(value) < 1 ? 2 : 1);
}

/** Time ticks: every day over a week or more, every 6 hours over a day, each at a whole UTC hour. */
function timeTicks(from: number, to: number): Array<{ at: number; label: string }> {
  const spanHours = (to - from) / 3_600_000;
  const stepHours = spanHours > 48 ? 24 : spanHours > 12 ? 6 : spanHours > 3 ? 1 : 0.25;
  const stepMs = stepHours * 3_600_000;
  const ticks: Array<{ at: number; label: string }> = [];
  for (let at = Math.ceil(from / stepMs) * stepMs; at <= to; at += stepMs) {
    const iso = new Date(at).toISOString();
    ticks.push({ at, label: stepHours >= 24 ? iso.slice(5, 10) : `${iso.slice(5, 10)} ${iso.slice(11, 16)}` });
  }
  return ticks;
}

/** Where values land on a chart: the y range (lanes, or the data and its near thresholds) and the two mappings. */
interface ChartScale {
  yMin: number;
  yMax: number;
  x: (at: number) => number;
  y: (value: number) => number;
}

function scaleOf(spec: ChartSpec, values: number[]): ChartScale {
  const thresholdValues = (spec.thresholds ?? []).map((threshold) => threshold.y);
  const lanes = spec.lanes;
  const yMin = lanes ? -0.5 : (spec.yMin ?? Math.min(0, ...values));
  const dataMax = Math.max(
    ...values,
    ...thresholdValues.filter((value) => values.length === 0 || value <= Math.max(...values) * 3),
  );
  const yMax = lanes
    ? lanes.length - 0.5
    : (spec.yMax ?? (Number.isFinite(dataMax) && dataMax > yMin ? dataMax * 1.08 : yMin + 1));
  return {
    yMin,
    yMax,
    x: (at: number) => margin.left + ((at - spec.from) / Math.max(1, spec.to - spec.from)) * plotWidth,
    y: (value: number) => margin.top + plotHeight - ((Math.min(Math.max(value, yMin), yMax) - yMin) / (yMax - yMin)) * plotHeight,
  };
}

function axesSvg(spec: ChartSpec, { yMin, yMax, x, y }: ChartScale): string[] {
  const xTicks = timeTicks(spec.from, spec.to);
  const yTicks = spec.lanes
    ? spec.lanes.map((lane, index) => ({ value: index, label: lane }))
    : niceTicks(yMin, yMax).map((value) => ({ value, label: tickLabel(value) }));
  return [
    `<g class="axis x" data-axis="x"><line x1="${margin.left}" y1="${margin.top + plotHeight}" x2="${margin.left + plotWidth}" y2="${margin.top + plotHeight}"/>`,
    ...xTicks.map(
      (tick) =>
        `<line class="tick" x1="${round(x(tick.at))}" y1="${margin.top + plotHeight}" x2="${round(x(tick.at))}" y2="${margin.top + plotHeight + 4}"/><text x="${round(x(tick.at))}" y="${margin.top + plotHeight + 16}" text-anchor="middle">${tick.label}</text>`,
    ),
    `<text class="axis-label" x="${margin.left + plotWidth / 2}" y="${height - 4}" text-anchor="middle">time (UTC)</text></g>`,
    `<g class="axis y" data-axis="y"><line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${margin.top + plotHeight}"/>`,
    ...yTicks.map(
      (tick) =>
        `<line class="grid" x1="${margin.left}" y1="${round(y(tick.value))}" x2="${margin.left + plotWidth}" y2="${round(y(tick.value))}"/><text x="${margin.left - 6}" y="${round(y(tick.value)) + 4}" text-anchor="end">${escapeHtml(tick.label)}</text>`,
    ),
    `<text class="axis-label" transform="translate(12 ${margin.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(spec.yLabel)}</text></g>`,
  ];
}

function thresholdSvg(threshold: Threshold, { y }: ChartScale): string {
  return `<g class="threshold" data-threshold="${escapeHtml(threshold.label)}"><line x1="${margin.left}" y1="${round(y(threshold.y))}" x2="${margin.left + plotWidth}" y2="${round(y(threshold.y))}" stroke="${threshold.colour}" stroke-dasharray="5 4"/><text x="${margin.left + plotWidth + 4}" y="${round(y(threshold.y)) + 4}" fill="${threshold.colour}">${escapeHtml(threshold.label)}</text></g>`;
}

/** A series drawn: its band, its line, its points (bars or dots), and its entry in the legend at `legendY`. */
function seriesSvg(series: ChartSpec['series'][number], spec: ChartSpec, { yMin, x, y }: ChartScale, legendY: number): string[] {
  const parts: string[] = [];
  const band = (series.band ?? []).slice().sort((a, b) => a.x - b.x);
  if (band.length > 0) {
    const upper = band.map((point) => `${round(x(point.x))},${round(y(point.high))}`);
    const lower = band.map((point) => `${round(x(point.x))},${round(y(point.low))}`).reverse();
    parts.push(
      `<polygon class="band" data-series="${escapeHtml(series.name)}" points="${[...upper, ...lower].join(' ')}" fill="${series.colour}" fill-opacity="0.18" stroke="none"/>`,
    );
  }
  const points = series.points.slice().sort((a, b) => a.x - b.x);
  if (series.line && points.length > 1)
    parts.push(
      `<polyline class="line" points="${points.map((point) => `${round(x(point.x))},${round(y(point.y))}`).join(' ')}" fill="none" stroke="${series.colour}" stroke-width="2"/>`,
    );
  for (const point of points) {
    const label = `<title>${escapeHtml(point.label)}</title>`;
    if (series.bars) {
      const barWidth = Math.max(3, Math.min(18, plotWidth / Math.max(8, points.length * 2)));
      const top = y(point.y);
      parts.push(
        `<rect class="point" data-series="${escapeHtml(series.name)}" data-value="${point.y}" x="${round(x(point.x) - barWidth / 2)}" y="${round(top)}" width="${round(barWidth)}" height="${round(Math.max(1, y(Math.max(yMin, 0)) - top))}" fill="${series.colour}">${label}</rect>`,
      );
    } else {
      parts.push(
        `<circle class="point" data-series="${escapeHtml(series.name)}" data-value="${point.y}" cx="${round(x(point.x))}" cy="${round(y(point.y))}" r="${spec.lanes ? 5 : 3.5}" fill="${series.colour}">${label}</circle>`,
      );
    }
  }
  parts.push(
    `<g class="legend"><rect x="${margin.left + plotWidth + 8}" y="${legendY}" width="10" height="10" fill="${series.colour}"/><text x="${margin.left + plotWidth + 22}" y="${legendY + 9}">${escapeHtml(series.name)}</text></g>`,
  );
  return parts;
}

export function renderChart(spec: ChartSpec): string {
  const values = spec.series.flatMap((series) => [
    ...series.points.map((point) => point.y),
    ...(series.band ?? []).flatMap((band) => [band.low, band.high]),
  ]);
  const scale = scaleOf(spec, values);
  const { yMin, yMax } = scale;
  const thresholds = spec.thresholds ?? [];
  // A threshold far above the data is named under the legend, not drawn: drawing it would flatten what was measured.
  const offScale = thresholds.filter((threshold) => threshold.y < yMin || threshold.y > yMax);
  const legendY = (index: number) => margin.top + 4 + index * 16;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" data-chart="${spec.id}" role="img" aria-label="${escapeHtml(spec.title)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">`,
    `<title>${escapeHtml(spec.title)}</title>`,
    `<text class="chart-title" x="${margin.left}" y="16">${escapeHtml(spec.title)}</text>`,
    // Axes first, so every point sits on top of them.
    ...axesSvg(spec, scale),
    ...thresholds.filter((threshold) => !offScale.includes(threshold)).map((threshold) => thresholdSvg(threshold, scale)),
    ...spec.series.flatMap((series, index) => seriesSvg(series, spec, scale, legendY(index))),
    ...offScale.map(
      (threshold, index) =>
        `<g class="threshold off-scale" data-threshold="${escapeHtml(threshold.label)}"><text x="${margin.left + plotWidth + 8}" y="${legendY(spec.series.length + index) + 9}" fill="${threshold.colour}">${escapeHtml(threshold.label)} (${threshold.y > yMax ? 'above' : 'below'} the scale)</text></g>`,
    ),
    ...(values.length === 0
      ? [
          `<text class="empty" x="${margin.left + plotWidth / 2}" y="${margin.top + plotHeight / 2}" text-anchor="middle">${escapeHtml(spec.empty)}</text>`,
        ]
      : []),
    '</svg>',
  ].join('');
}
