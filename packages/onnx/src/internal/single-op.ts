// One op as a whole ONNX model (inputs `input0`, `input1`, ... -> `output`), for testing each
// exporter against the op's own forward pass.
import type { NamedArray } from '@tsnas/backend';
import type { OpDesc } from '@tsnas/descs';
import { Exporter, IR_VERSION, ONNX_OPSET, VERSION, WeightSource } from '../export.js';
import { floatValueInfo } from '../graph.js';
import { onnx } from './proto.js';

/** `weights` are named `op.<member>` (the op's variables under the path 'op'). */
export function singleOpModel(
  desc: OpDesc,
  weights: Map<string, NamedArray>,
  nInputs: number,
  affine = true,
): Uint8Array {
  const source = new WeightSource(weights, 'op weights');
  const ex = new Exporter(source, {});
  const inputs = Array.from({ length: nInputs }, (_, i) => `input${i}`);
  for (const name of inputs) ex.graph.reserve(name);
  ex.graph.reserve('output');
  const y = ex.op(desc, inputs, 'op', affine);
  ex.graph.nodes.push({ opType: 'Identity', name: 'output', input: [y], output: ['output'] });
  source.checkAllUsed();
  const model = ex.graph.toModel({
    input: floatValueInfo(inputs[0], ['b', 'c', 'h', 'w']),
    output: floatValueInfo('output', ['b', 'c_out', 'h_out', 'w_out']),
    opset: ONNX_OPSET,
    irVersion: IR_VERSION,
    producerVersion: VERSION,
    docString: `op ${desc.name}`,
    metadata: {},
    graphName: desc.name,
  });
  model.graph!.input = inputs.map((name) => floatValueInfo(name, ['b', `c${name}`, 'h', 'w']));
  return onnx.ModelProto.encode(model).finish();
}
