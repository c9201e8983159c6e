import { type CellDesc, CellType, type ModelDesc } from '@tsnas/descs';
import { type CellDotOptions, cellToDot } from './cell-dot.js';
import { VizInputError } from './errors.js';
import { renderDotSvg } from './graphviz.js';

/** The DARTS cell picture as an SVG document. */
export function renderCellSvg(cell: CellDesc, opts?: CellDotOptions): Promise<string> {
  return renderDotSvg(cellToDot(cell, opts));
}

export interface ModelCellsSvg {
  /** First regular cell, or null when the model has none (e.g. every cell is a reduction). */
  normal: string | null;
  /** First reduction cell, or null when the model has none (`n_reductions: 0`). */
  reduce: string | null;
}

/** Pictures of the model's first regular and first reduction cell (the ones a DARTS genotype names). */
export async function renderModelCellsSvg(desc: ModelDesc, opts?: CellDotOptions): Promise<ModelCellsSvg> {
  const cells = desc.cellDescs();
  if (cells.length === 0) throw new VizInputError('renderModelCellsSvg: the model description has no cells');
  const normal = cells.find((c) => c.cellType === CellType.Regular);
  const reduce = cells.find((c) => c.cellType === CellType.Reduction);
  return {
    normal: normal ? await renderCellSvg(normal, opts) : null,
    reduce: reduce ? await renderCellSvg(reduce, opts) : null,
  };
}
