// onnx-proto is CommonJS whose module.exports is the protobuf root `{ onnx }`: Node's ESM loader
// cannot see named exports in it, so the namespace comes from the default import.
import onnxProto from 'onnx-proto';

export const onnx = onnxProto.onnx;
export type { onnx as OnnxTypes } from 'onnx-proto';
