import { scaleLinear } from 'd3-scale';
import { schemeTableau10 } from 'd3-scale-chromatic';
import { VizInputError } from './errors.js';
import { approxTextWidth, escapeXml, fmt, svgOpen } from './internal/xml.js';

export interface CurveLine {
  /** Legend entry, e.g. `train`, `val`, `test`. */
  name: string;
  /** `[x, y]` in drawing order (usually by epoch). A non-finite coordinate leaves a gap in the line. */
  points: [number, number][];
}

export interface CurveSeries {
  title: string;
  xLabel: string;
  yLabel?: string;
  lines: CurveLine[];
}

export interface CurveOptions {
  /** Whole picture size in px; defaults 720 x 420. */
  width?: number;
  height?: number;
}

const TITLE_SIZE = 16;
const LABEL_SIZE = 13;
const TICK_SIZE = 11;
/** Above this many points per line the dots would hide the line, so only the line is drawn. */
const MAX_MARKED_POINTS = 60;

type Domain = [number, number];

function checkSeries(series: CurveSeries): void {
  const where = `renderCurvesSvg('${series?.title}')`;
  if (!Array.isArray(series?.lines) || series.lines.length === 0) {
    throw new VizInputError(`${where}: lines is empty, expected at least one { name, points } line`);
  }
  let finite = 0;
  series.lines.forEach((line, li) => {
    if (!Array.isArray(line.points) || line.points.length === 0) {
      throw new VizInputError(`${where}: lines[${li}] ('${line.name}') has no points`);
    }
    line.points.forEach((p, pi) => {
      if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'number' || typeof p[1] !== 'number') {
        throw new VizInputError(
          `${where}: lines[${li}].points[${pi}] ('${line.name}') is ${JSON.stringify(p)}, expected [x, y] numbers`,
        );
      }
      if (Number.isFinite(p[0]) && Number.isFinite(p[1])) finite++;
    });
  });
  if (finite === 0) throw new VizInputError(`${where}: no line has a finite [x, y] point to draw`);
}

/** Min and max of the finite values, widened when they coincide so a flat line still gets an axis. */
function extent(values: number[]): Domain {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === hi) {
    const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    return [lo - pad, hi + pad];
  }
  return [lo, hi];
}

/** A line chart (loss or accuracy per epoch, one line per split) as a standalone SVG document. */
export function renderCurvesSvg(series: CurveSeries, opts: CurveOptions = {}): string {
  checkSeries(series);
  const width = opts.width ?? 720;
  const height = opts.height ?? 420;
  if (!(width >= 200 && height >= 150)) {
    throw new VizInputError(
      `renderCurvesSvg: size ${width} x ${height} is too small, expected at least 200 x 150`,
    );
  }
  const allPoints = series.lines.flatMap((l) => l.points);
  const xs = allPoints.map((p) => p[0]);
  const integerX = xs.every((x) => !Number.isFinite(x) || Number.isInteger(x));

  const y = scaleLinear()
    .domain(extent(allPoints.map((p) => p[1])))
    .nice(6);
  const yTicks = y.ticks(6);
  const yFormat = y.tickFormat(6);
  const yTickWidth = Math.max(...yTicks.map((t) => approxTextWidth(yFormat(t), TICK_SIZE)));
  const legendWidth = Math.max(...series.lines.map((l) => approxTextWidth(l.name, LABEL_SIZE))) + 44;

  const left = 16 + (series.yLabel ? LABEL_SIZE + 10 : 0) + yTickWidth + 8;
  const right = width - legendWidth - 12;
  const top = 44;
  const bottom = height - 56;
  if (right - left < 60) {
    throw new VizInputError(`renderCurvesSvg('${series.title}'): width ${width} leaves no room for the plot`);
  }

  const x = scaleLinear().domain(extent(xs)).nice(8).range([left, right]);
  y.range([bottom, top]);
  // Epoch axes get whole-number ticks only; 2.5 epochs means nothing.
  const xTicks = x.ticks(8).filter((t) => !integerX || Number.isInteger(t));
  const xFormat = integerX ? x.tickFormat(8, 'd') : x.tickFormat(8);

  const out: string[] = [svgOpen(width, height)];
  out.push(`<rect class="background" width="100%" height="100%" fill="white"/>`);
  out.push(
    `<text class="title" x="${fmt(width / 2)}" y="26" text-anchor="middle" font-size="${TITLE_SIZE}" ` +
      `font-weight="bold">${escapeXml(series.title)}</text>`,
  );

  out.push('<g class="grid" stroke="#e5e5e5" stroke-width="1">');
  for (const t of yTicks)
    out.push(`<line x1="${fmt(left)}" x2="${fmt(right)}" y1="${fmt(y(t))}" y2="${fmt(y(t))}"/>`);
  for (const t of xTicks)
    out.push(`<line x1="${fmt(x(t))}" x2="${fmt(x(t))}" y1="${fmt(top)}" y2="${fmt(bottom)}"/>`);
  out.push('</g>');

  out.push(`<g class="axis x-axis" font-size="${TICK_SIZE}" fill="#333">`);
  out.push(
    `<line x1="${fmt(left)}" x2="${fmt(right)}" y1="${fmt(bottom)}" y2="${fmt(bottom)}" stroke="#333"/>`,
  );
  for (const t of xTicks) {
    out.push(
      `<line x1="${fmt(x(t))}" x2="${fmt(x(t))}" y1="${fmt(bottom)}" y2="${fmt(bottom + 5)}" stroke="#333"/>`,
    );
    out.push(
      `<text x="${fmt(x(t))}" y="${fmt(bottom + 18)}" text-anchor="middle">${escapeXml(xFormat(t))}</text>`,
    );
  }
  out.push('</g>');
  out.push(`<g class="axis y-axis" font-size="${TICK_SIZE}" fill="#333">`);
  out.push(`<line x1="${fmt(left)}" x2="${fmt(left)}" y1="${fmt(top)}" y2="${fmt(bottom)}" stroke="#333"/>`);
  for (const t of yTicks) {
    out.push(
      `<line x1="${fmt(left - 5)}" x2="${fmt(left)}" y1="${fmt(y(t))}" y2="${fmt(y(t))}" stroke="#333"/>`,
    );
    out.push(
      `<text x="${fmt(left - 8)}" y="${fmt(y(t) + 4)}" text-anchor="end">${escapeXml(yFormat(t))}</text>`,
    );
  }
  out.push('</g>');

  out.push(
    `<text class="x-label" x="${fmt((left + right) / 2)}" y="${fmt(height - 14)}" text-anchor="middle" ` +
      `font-size="${LABEL_SIZE}">${escapeXml(series.xLabel)}</text>`,
  );
  if (series.yLabel) {
    const cy = (top + bottom) / 2;
    out.push(
      `<text class="y-label" x="${fmt(22)}" y="${fmt(cy)}" transform="rotate(-90 22 ${fmt(cy)})" ` +
        `text-anchor="middle" font-size="${LABEL_SIZE}">${escapeXml(series.yLabel)}</text>`,
    );
  }

  series.lines.forEach((line, i) => {
    const color = schemeTableau10[i % schemeTableau10.length];
    let d = '';
    let penDown = false;
    for (const [px, py] of line.points) {
      if (!Number.isFinite(px) || !Number.isFinite(py)) {
        penDown = false; // a NaN loss (diverged step) shows as a gap, not as a crash
        continue;
      }
      d += `${penDown ? 'L' : 'M'}${fmt(x(px))},${fmt(y(py))}`;
      penDown = true;
    }
    out.push(`<g class="line" data-name="${escapeXml(line.name)}">`);
    out.push(
      `<path class="series" d="${d}" fill="none" stroke="${color}" stroke-width="2" ` +
        `stroke-linejoin="round" stroke-linecap="round"/>`,
    );
    if (line.points.length <= MAX_MARKED_POINTS) {
      for (const [px, py] of line.points) {
        if (Number.isFinite(px) && Number.isFinite(py)) {
          out.push(`<circle cx="${fmt(x(px))}" cy="${fmt(y(py))}" r="2.5" fill="${color}"/>`);
        }
      }
    }
    out.push('</g>');
  });

  out.push(`<g class="legend" font-size="${LABEL_SIZE}">`);
  series.lines.forEach((line, i) => {
    const color = schemeTableau10[i % schemeTableau10.length];
    const ly = top + 8 + i * 20;
    const lx = right + 16;
    out.push(
      `<line x1="${fmt(lx)}" x2="${fmt(lx + 20)}" y1="${fmt(ly)}" y2="${fmt(ly)}" stroke="${color}" stroke-width="3"/>`,
    );
    out.push(`<text x="${fmt(lx + 26)}" y="${fmt(ly + 4)}">${escapeXml(line.name)}</text>`);
  });
  out.push('</g>');
  out.push('</svg>');
  return out.join('\n');
}
