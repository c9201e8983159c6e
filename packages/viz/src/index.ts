export {
  CELL_INPUT_IDS,
  CELL_OUTPUT_ID,
  type CellDotOptions,
  cellStateId,
  cellToDot,
  edgeLabel,
  postOpInputs,
} from './cell-dot.js';
export { type ModelCellsSvg, renderCellSvg, renderModelCellsSvg } from './cell-svg.js';
export { VizInputError } from './errors.js';
export { loadGraphviz, renderDotSvg } from './graphviz.js';
export { OP_FAMILY_STYLES, type OpFamily, type OpFamilyStyle, opFamily } from './op-style.js';
