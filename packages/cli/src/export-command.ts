// `nas export`: the trained evaluation network of an experiment folder (or of a desc file and a
// weights file) as an ONNX model.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadSafetensors, writeFileAtomic } from '@tsnas/backend';
import { loadModelDesc } from '@tsnas/descs';
import { buildOnnxModel, encodeOnnx, ONNX_INPUT, ONNX_OPSET, ONNX_OUTPUT } from '@tsnas/onnx';
import { UsageError } from '@tsnas/runner';
import { type Command, Option } from 'commander';

interface ExportFlags {
  onnx: string;
  weights?: string;
  inputLayout: 'nchw' | 'nhwc';
  inputSize?: [number, number];
  batch?: number;
  json?: boolean;
}

/** Where an experiment folder keeps the evaluation network (runner's Evaluater). */
const EVAL_DESC = join('eval', 'full_model_desc.yaml');
const EVAL_WEIGHTS = join('eval', 'weights.safetensors');

function parseSize(v: string): [number, number] {
  const m = /^(\d+)(?:x(\d+))?$/.exec(v.trim());
  const h = m ? Number(m[1]) : Number.NaN;
  const w = m?.[2] ? Number(m[2]) : h;
  if (!(h > 0 && w > 0)) throw new UsageError(`--input-size: expected HxW or N (e.g. 32x32), got '${v}'`);
  return [h, w];
}

function parseBatch(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--batch: expected a positive integer, got '${v}'`);
  return n;
}

/** The desc and weights files `source` (an experiment folder or a desc file) and --weights name. */
function inputsOf(
  source: string,
  weights: string | undefined,
  cwd: string,
): { desc: string; weights: string } {
  const path = resolve(cwd, source);
  if (!existsSync(path)) throw new UsageError(`${source}: no such experiment folder or desc file`);
  if (statSync(path).isDirectory()) {
    const desc = join(path, EVAL_DESC);
    if (!existsSync(desc))
      throw new UsageError(`${source}: no ${EVAL_DESC} in this experiment folder (has its evaluation run?)`);
    const w = weights ? resolve(cwd, weights) : join(path, EVAL_WEIGHTS);
    if (!existsSync(w)) {
      throw new UsageError(
        weights
          ? `--weights ${weights}: no such file`
          : `${join(source, EVAL_WEIGHTS)}: no such file (the evaluation has not finished; or pass --weights)`,
      );
    }
    return { desc, weights: w };
  }
  if (!weights)
    throw new UsageError(`${source} is a desc file: pass the network's weights with --weights FILE`);
  const w = resolve(cwd, weights);
  if (!existsSync(w)) throw new UsageError(`--weights ${weights}: no such file`);
  return { desc: path, weights: w };
}

async function exportCommand(source: string, flags: ExportFlags, cwd: string): Promise<void> {
  const files = inputsOf(source, flags.weights, cwd);
  const desc = await loadModelDesc(files.desc);
  const { tensors } = await loadSafetensors(files.weights);
  const layout = flags.inputLayout === 'nhwc' ? 'NHWC' : 'NCHW';
  const model = buildOnnxModel(desc, tensors, {
    source: files.weights,
    inputLayout: layout,
    inputSize: flags.inputSize,
    batchSize: flags.batch,
  });
  const bytes = encodeOnnx(model);
  const out = resolve(cwd, flags.onnx);
  mkdirSync(dirname(out), { recursive: true });
  await writeFileAtomic(out, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));

  const dims = model.graph!.input![0].type!.tensorType!.shape!.dim!.map(
    (d) => d.dimParam || Number(d.dimValue),
  );
  const params = model.graph!.initializer!.reduce(
    (n, t) => n + t.dims!.reduce<number>((a, b) => a * Number(b), 1),
    0,
  );
  const info = {
    onnx: out,
    desc: files.desc,
    weights: files.weights,
    opset: ONNX_OPSET,
    input: { name: ONNX_INPUT, layout, shape: dims },
    output: { name: ONNX_OUTPUT, shape: [dims[0], desc.nClasses] },
    nodes: model.graph!.node!.length,
    initializer_values: params,
    bytes: bytes.byteLength,
  };
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    [
      `wrote ${out} (${(bytes.byteLength / 1024).toFixed(0)} KiB, opset ${ONNX_OPSET}, ${info.nodes} nodes)`,
      `  input   '${ONNX_INPUT}' [${dims.join(', ')}] (${layout})`,
      `  output  '${ONNX_OUTPUT}' [${info.output.shape.join(', ')}]`,
      '',
    ].join('\n'),
  );
}

/** Adds `nas export` to the program. */
export function addExportCommand(program: Command, cwd: string): void {
  program
    .command('export')
    .description('write the trained evaluation network of an experiment folder (or a desc + weights) as ONNX')
    .argument('<source>', `experiment folder (uses ${EVAL_DESC} and ${EVAL_WEIGHTS}) or desc file`)
    .requiredOption('--onnx <file>', 'the .onnx file to write')
    .option('--weights <file>', `safetensors weights (default with a folder: ${EVAL_WEIGHTS})`)
    .addOption(
      new Option('--input-layout <layout>', "the graph's input layout (nhwc: transposed inside the graph)")
        .choices(['nchw', 'nhwc'])
        .default('nchw'),
    )
    .option('--input-size <HxW>', 'fix the input height and width (default: any size)', parseSize)
    .option('--batch <n>', 'fix the batch size (default: any)', parseBatch)
    .option('--json', 'print JSON')
    .action(async (source: string, o: ExportFlags) => exportCommand(source, o, cwd));
}
