import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSafetensors, saveSafetensors } from '@tsnas/backend';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nas, TINY } from './helpers.js';

/** Runs the .onnx file on a batch; returns the logits. */
async function runFile(file: string, dims: number[]): Promise<ort.Tensor> {
  const session = await ort.InferenceSession.create(file);
  try {
    expect(session.inputNames).toEqual(['input']);
    expect(session.outputNames).toEqual(['logits']);
    const n = dims.reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37));
    const out = await session.run({ input: new ort.Tensor('float32', data, dims) });
    return out.logits;
  } finally {
    await session.release();
  }
}

describe('nas export (built binary)', () => {
  let dir: string;
  let run: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'nas-export-'));
    run = join(dir, 'run');
    // A real, finished run: the tiny profile's DARTS_V2 network (8x8x1 synthetic images, 4 classes).
    const r = nas(
      [
        'darts',
        '--config',
        TINY,
        '--exp-dir',
        run,
        '--eval-only',
        '--desc',
        'darts_v2',
        '--seed',
        '3',
        '--json',
      ],
      dir,
    );
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("exports an experiment folder's trained network; onnxruntime-node loads and runs the file", async () => {
    const r = nas(['export', 'run', '--onnx', 'out/net.onnx', '--json'], dir);
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info).toMatchObject({
      onnx: join(dir, 'out', 'net.onnx'),
      desc: join(run, 'eval', 'full_model_desc.yaml'),
      weights: join(run, 'eval', 'weights.safetensors'),
      opset: 17,
      input: { name: 'input', layout: 'NCHW', shape: ['batch', 1, 'height', 'width'] },
      output: { name: 'logits', shape: ['batch', 4] },
    });
    const logits = await runFile(join(dir, 'out', 'net.onnx'), [3, 1, 8, 8]);
    expect(logits.dims).toEqual([3, 4]);
    const values = Array.from(logits.data as Float32Array);
    expect(values.every(Number.isFinite)).toBe(true);
    expect(new Set(values).size).toBeGreaterThan(1);
  });

  it('a desc file with --weights, NHWC input of a fixed size and batch', async () => {
    const out = join(dir, 'nhwc.onnx');
    const r = nas(
      [
        'export',
        join('run', 'eval', 'full_model_desc.yaml'),
        '--weights',
        join('run', 'eval', 'weights.safetensors'),
        '--onnx',
        out,
        '--input-layout',
        'nhwc',
        '--input-size',
        '8x8',
        '--batch',
        '2',
      ],
      dir,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`wrote ${out}`);
    expect(r.stdout).toContain("input   'input' [2, 8, 8, 1] (NHWC)");
    const logits = await runFile(out, [2, 8, 8, 1]);
    expect(logits.dims).toEqual([2, 4]);
  });

  describe('bad input exits 2 naming the file, and leaves an existing output alone', () => {
    const keep = 'an earlier export';
    let out: string;
    beforeAll(() => {
      out = join(dir, 'kept.onnx');
      writeFileSync(out, keep);
    });

    function fails(args: string[], message: string | RegExp) {
      const r = nas([...args, '--onnx', out], dir);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
      if (typeof message === 'string') expect(r.stderr).toContain(message);
      else expect(r.stderr).toMatch(message);
      expect(readFileSync(out, 'utf8')).toBe(keep);
    }

    it('a missing weights file', () => {
      fails(['export', 'run', '--weights', 'nope.safetensors'], '--weights nope.safetensors: no such file');
    });

    it('a desc file without --weights, and a folder without an evaluation', () => {
      fails(
        ['export', join('run', 'eval', 'full_model_desc.yaml')],
        "pass the network's weights with --weights FILE",
      );
      fails(['export', dir], `${dir}: no eval/full_model_desc.yaml in this experiment folder`);
      fails(['export', 'missing-dir'], 'missing-dir: no such experiment folder or desc file');
    });

    it('weights whose shapes do not match the desc name the file and the tensor', async () => {
      const { tensors } = await loadSafetensors(join(run, 'eval', 'weights.safetensors'));
      const bad = join(dir, 'other.safetensors');
      tensors.set('logits_op.linear.bias', { shape: [5], data: new Float32Array(5) });
      await saveSafetensors(bad, tensors);
      fails(
        ['export', 'run', '--weights', bad],
        `nas: error: ${bad}: tensor 'logits_op.linear.bias' has shape [5], the desc expects [4]`,
      );
    });

    it('a truncated weights file', () => {
      const cut = join(dir, 'cut.safetensors');
      writeFileSync(cut, readFileSync(join(run, 'eval', 'weights.safetensors')).subarray(0, 100));
      fails(['export', 'run', '--weights', cut], new RegExp(`nas: error: ${cut}: `));
    });

    it('a bad --input-size', () => {
      fails(
        ['export', 'run', '--input-size', '8y8'],
        "--input-size: expected HxW or N (e.g. 32x32), got '8y8'",
      );
      expect(existsSync(join(dir, 'run', 'eval', 'weights.safetensors'))).toBe(true);
    });
  });
});
