import { scaleLinear } from 'd3-scale';
import { interpolateViridis } from 'd3-scale-chromatic';
import { VizInputError } from './errors.js';
import { approxTextWidth, escapeXml, fmt, svgOpen } from './internal/xml.js';

export interface HeatmapOptions {
  /** Colour scale range; defaults to the matrix's min and max. */
  domain?: [number, number];
  /** Digits printed in each cell; default 2. */
  decimals?: number;
  /** Print the value in each cell; default true up to 400 cells. */
  showValues?: boolean;
}

const TITLE_SIZE = 15;
const LABEL_SIZE = 12;
const VALUE_SIZE = 10;
const CELL_H = 24;

function check(matrix: number[][], rowLabels: string[], colLabels: string[], title: string): void {
  const where = `renderHeatmapSvg('${title}')`;
  if (!Array.isArray(matrix) || matrix.length === 0) {
    throw new VizInputError(`${where}: matrix has no rows, expected at least a 1 x 1 matrix`);
  }
  const nCols = matrix[0]?.length ?? 0;
  if (nCols === 0) throw new VizInputError(`${where}: matrix[0] has no columns`);
  matrix.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== nCols) {
      throw new VizInputError(
        `${where}: matrix[${i}] has ${Array.isArray(row) ? row.length : 'no'} columns, expected ${nCols} like matrix[0]`,
      );
    }
    row.forEach((v, j) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new VizInputError(`${where}: matrix[${i}][${j}] is ${String(v)}, expected a finite number`);
      }
    });
  });
  if (rowLabels.length !== matrix.length) {
    throw new VizInputError(`${where}: ${rowLabels.length} row labels for ${matrix.length} rows`);
  }
  if (colLabels.length !== nCols) {
    throw new VizInputError(`${where}: ${colLabels.length} column labels for ${nCols} columns`);
  }
}

/**
 * A labelled heat map (DARTS alpha softmax per edge and op, DivNAS kernel matrices) with a colour bar,
 * as a standalone SVG document. Each matrix entry is one `<rect class="cell">` with a tooltip.
 */
export function renderHeatmapSvg(
  matrix: number[][],
  rowLabels: string[],
  colLabels: string[],
  title: string,
  opts: HeatmapOptions = {},
): string {
  check(matrix, rowLabels, colLabels, title);
  const nRows = matrix.length;
  const nCols = matrix[0].length;
  const decimals = opts.decimals ?? 2;
  const showValues = opts.showValues ?? nRows * nCols <= 400;

  const values = matrix.flat();
  let [lo, hi] = opts.domain ?? [Math.min(...values), Math.max(...values)];
  if (opts.domain && !(Number.isFinite(lo) && Number.isFinite(hi) && lo < hi)) {
    throw new VizInputError(
      `renderHeatmapSvg('${title}'): domain [${lo}, ${hi}] must be finite with min < max`,
    );
  }
  if (lo === hi) {
    // A constant matrix still gets a readable colour bar around its single value.
    const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    [lo, hi] = [lo - pad, hi + pad];
  }
  const toUnit = scaleLinear().domain([lo, hi]).range([0, 1]).clamp(true);

  const cellW = Math.max(40, approxTextWidth((-hi).toFixed(decimals), VALUE_SIZE) + 10);
  const rowLabelW = Math.max(...rowLabels.map((l) => approxTextWidth(l, LABEL_SIZE)));
  // Column labels are slanted 45 degrees, so their height is their width / sqrt(2).
  const colLabelH = Math.max(...colLabels.map((l) => approxTextWidth(l, LABEL_SIZE))) * Math.SQRT1_2 + 10;
  const left = 12 + rowLabelW + 8;
  const top = 40 + colLabelH;
  const gridW = nCols * cellW;
  const gridH = nRows * CELL_H;
  const barX = left + gridW + 18;
  const barH = Math.max(gridH, 80);
  const bar = scaleLinear()
    .domain([lo, hi])
    .range([top + barH, top]);
  const barTicks = bar.ticks(5);
  const barFormat = bar.tickFormat(5);
  const barLabelW = Math.max(...barTicks.map((t) => approxTextWidth(barFormat(t), VALUE_SIZE + 1)));
  // The last slanted column label reaches right of the grid by up to its own width.
  const width = Math.max(
    barX + 14 + 6 + barLabelW + 12,
    left + gridW + colLabelH,
    approxTextWidth(title, TITLE_SIZE) + 24,
  );
  const height = top + Math.max(gridH, barH) + 16;

  const out: string[] = [svgOpen(width, height)];
  out.push(
    `<text class="title" x="${fmt(width / 2)}" y="24" text-anchor="middle" font-size="${TITLE_SIZE}" ` +
      `font-weight="bold">${escapeXml(title)}</text>`,
  );

  out.push(`<g class="col-labels" font-size="${LABEL_SIZE}">`);
  colLabels.forEach((label, j) => {
    const cx = left + (j + 0.5) * cellW;
    const cy = top - 6;
    out.push(
      `<text x="${fmt(cx)}" y="${fmt(cy)}" transform="rotate(-45 ${fmt(cx)} ${fmt(cy)})">${escapeXml(label)}</text>`,
    );
  });
  out.push('</g>');
  out.push(`<g class="row-labels" font-size="${LABEL_SIZE}" text-anchor="end">`);
  rowLabels.forEach((label, i) => {
    out.push(
      `<text x="${fmt(left - 8)}" y="${fmt(top + (i + 0.5) * CELL_H + 4)}">${escapeXml(label)}</text>`,
    );
  });
  out.push('</g>');

  out.push(`<g class="cells" font-size="${VALUE_SIZE}" text-anchor="middle">`);
  matrix.forEach((row, i) => {
    row.forEach((v, j) => {
      const t = toUnit(v);
      const x = left + j * cellW;
      const y = top + i * CELL_H;
      const tip = `${rowLabels[i]} / ${colLabels[j]}: ${v}`;
      out.push(
        `<rect class="cell" x="${fmt(x)}" y="${fmt(y)}" width="${fmt(cellW)}" height="${CELL_H}" ` +
          `fill="${interpolateViridis(t)}" stroke="white" stroke-width="1"><title>${escapeXml(tip)}</title></rect>`,
      );
      if (showValues) {
        // Viridis is dark at the low end: white text there, black on the bright end.
        out.push(
          `<text x="${fmt(x + cellW / 2)}" y="${fmt(y + CELL_H / 2 + 3.5)}" fill="${t < 0.6 ? 'white' : 'black'}">` +
            `${v.toFixed(decimals)}</text>`,
        );
      }
    });
  });
  out.push('</g>');

  // Colour bar: a path (not a rect) so every <rect> in the picture is a matrix cell.
  const stops = Array.from({ length: 11 }, (_, k) => k / 10);
  out.push('<defs><linearGradient id="heatmap-bar" x1="0" y1="1" x2="0" y2="0">');
  for (const s of stops) out.push(`<stop offset="${s}" stop-color="${interpolateViridis(s)}"/>`);
  out.push('</linearGradient></defs>');
  out.push(`<g class="colorbar" font-size="${VALUE_SIZE + 1}">`);
  out.push(
    `<path d="M${fmt(barX)},${fmt(top)}h14v${fmt(barH)}h-14z" fill="url(#heatmap-bar)" stroke="#999"/>`,
  );
  for (const t of barTicks) {
    out.push(
      `<line x1="${fmt(barX + 14)}" x2="${fmt(barX + 18)}" y1="${fmt(bar(t))}" y2="${fmt(bar(t))}" stroke="#333"/>` +
        `<text x="${fmt(barX + 20)}" y="${fmt(bar(t) + 4)}">${escapeXml(barFormat(t))}</text>`,
    );
  }
  out.push('</g>');
  out.push('</svg>');
  return out.join('\n');
}
