export { OnnxExportError } from './errors.js';
export {
  buildOnnxModel,
  encodeOnnx,
  type ExportOptions,
  exportOnnx,
  ONNX_INPUT,
  ONNX_OPSET,
  ONNX_OUTPUT,
} from './export.js';
export { BUILTIN_EXPORTERS, batchNorm, conv, type OpExportContext, type OpExporter } from './exporters.js';
export { type AttrValue, type ConvGeometry, GraphBuilder } from './graph.js';
