/**
 * Actual against predicted values as a plain SVG line chart (as the MSC/R paper's Figure 4.9
 * shows its stock model): no chart library, a string of SVG markup, so it is cheap to render
 * and testable without a browser.
 */

export interface ChartPoint {
  x: number;
  actual?: number;
  predicted?: number;
}

export interface ChartOptions {
  title: string;
  /** What the values are, e.g. `Close`. */
  valueName: string;
  xName?: string;
  /** Legend of the two series (default `actual <valueName>`, `predicted <valueName>`); '' hides one. */
  legend?: [string, string];
  /** What the points are, in the description (default `days`). */
  unit?: string;
  width?: number;
  height?: number;
}

export function escapeXml(text: string): string {
  return text.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/** About `count` round tick values covering [min, max] (1, 2 or 5 times a power of ten apart). */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const range = max - min;
  const power = 10 ** Math.floor(Math.log10(range / Math.max(1, count)));
  // The round step whose tick count is nearest to `count`.
  const step =
    [1, 2, 5, 10]
      .map((m) => m * power)
      .sort((a, b) => Math.abs(range / a - count) - Math.abs(range / b - count))[0] ?? power;
  const ticks: number[] = [];
  for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step) {
    ticks.push(Number(t.toPrecision(12)));
  }
  return ticks;
}

function formatTick(value: number): string {
  if (Math.abs(value) >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (Math.abs(value) >= 1e4) return `${(value / 1e3).toFixed(0)}k`;
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

/** The SVG markup of the chart; an empty-state message when there is nothing to draw. */
export function lineChartSvg(points: readonly ChartPoint[], options: ChartOptions): string {
  const width = options.width ?? 720;
  const height = options.height ?? 320;
  const pad = { left: 64, right: 16, top: 36, bottom: 44 };
  const values = points.flatMap((p) =>
    [p.actual, p.predicted].filter((v): v is number => v !== undefined && Number.isFinite(v)),
  );
  const title = escapeXml(options.title);
  if (points.length === 0 || values.length === 0) {
    return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" role="img" aria-label="${title}: no data"><text x="${width / 2}" y="${height / 2}" text-anchor="middle">No data to plot</text></svg>`;
  }
  const xs = points.map((p) => p.x);
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs);
  let yMin = Math.min(...values);
  let yMax = Math.max(...values);
  const margin = (yMax - yMin) * 0.05 || Math.abs(yMax) * 0.05 || 1;
  yMin -= margin;
  yMax += margin;
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const sx = (x: number) =>
    pad.left + (xMax === xMin ? plotW / 2 : ((x - xMin) / (xMax - xMin)) * plotW);
  const sy = (y: number) => pad.top + plotH - ((y - yMin) / (yMax - yMin)) * plotH;
  const line = (key: 'actual' | 'predicted') => {
    const segments: string[] = [];
    let current: string[] = [];
    for (const p of points) {
      const v = p[key];
      if (v === undefined || !Number.isFinite(v)) {
        if (current.length > 0) segments.push(current.join(' '));
        current = [];
        continue;
      }
      current.push(`${sx(p.x).toFixed(1)},${sy(v).toFixed(1)}`);
    }
    if (current.length > 0) segments.push(current.join(' '));
    return segments;
  };
  const parts: string[] = [];
  const yTicks = niceTicks(yMin, yMax, 5);
  for (const t of yTicks) {
    const y = sy(t).toFixed(1);
    parts.push(
      `<line class="grid" x1="${pad.left}" x2="${width - pad.right}" y1="${y}" y2="${y}"/>`,
      `<text class="tick" x="${pad.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${formatTick(t)}</text>`,
    );
  }
  for (const t of niceTicks(xMin, xMax, 6).filter((t) => Number.isInteger(t))) {
    const x = sx(t).toFixed(1);
    parts.push(
      `<line class="axis" x1="${x}" x2="${x}" y1="${pad.top + plotH}" y2="${pad.top + plotH + 4}"/>`,
      `<text class="tick" x="${x}" y="${pad.top + plotH + 16}" text-anchor="middle">${formatTick(t)}</text>`,
    );
  }
  parts.push(
    `<line class="axis" x1="${pad.left}" x2="${width - pad.right}" y1="${pad.top + plotH}" y2="${pad.top + plotH}"/>`,
    `<line class="axis" x1="${pad.left}" x2="${pad.left}" y1="${pad.top}" y2="${pad.top + plotH}"/>`,
    `<text class="axis-name" x="${pad.left + plotW / 2}" y="${height - 6}" text-anchor="middle">${escapeXml(options.xName ?? 'day')}</text>`,
    `<text class="axis-name" transform="translate(14 ${pad.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.valueName)}</text>`,
  );
  for (const segment of line('actual'))
    parts.push(`<polyline class="series actual" points="${segment}"/>`);
  for (const segment of line('predicted'))
    parts.push(`<polyline class="series predicted" points="${segment}"/>`);
  const legendY = 18;
  const [first, second] = options.legend ?? [
    `actual ${options.valueName}`,
    `predicted ${options.valueName}`,
  ];
  if (first !== '') {
    parts.push(
      `<line class="series actual" x1="${pad.left}" x2="${pad.left + 24}" y1="${legendY}" y2="${legendY}"/>`,
      `<text x="${pad.left + 30}" y="${legendY}" dominant-baseline="middle">${escapeXml(first)}</text>`,
    );
  }
  if (second !== '') {
    parts.push(
      `<line class="series predicted" x1="${pad.left + 170}" x2="${pad.left + 194}" y1="${legendY}" y2="${legendY}"/>`,
      `<text x="${pad.left + 200}" y="${legendY}" dominant-baseline="middle">${escapeXml(second)}</text>`,
    );
  }
  const description = `${points.length} ${options.unit ?? 'days'} from ${formatTick(xMin)} to ${formatTick(xMax)}; values from ${formatTick(Math.min(...values))} to ${formatTick(Math.max(...values))}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${title}. ${escapeXml(description)}"><title>${title}</title>${parts.join('')}</svg>`;
}
