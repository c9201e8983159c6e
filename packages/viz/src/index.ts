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
export { type CurveLine, type CurveOptions, type CurveSeries, renderCurvesSvg } from './curves.js';
export { VizInputError } from './errors.js';
export { loadGraphviz, renderDotSvg } from './graphviz.js';
export { type HeatmapOptions, renderHeatmapSvg } from './heatmap.js';
export { OP_FAMILY_STYLES, type OpFamily, type OpFamilyStyle, opFamily } from './op-style.js';
export { type PngOptions, svgToPng } from './png.js';
