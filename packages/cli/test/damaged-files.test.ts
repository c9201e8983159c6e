import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { encodeSafetensors } from '@tsnas/backend';
import {
  type ConfModelDesc,
  DARTS_V2,
  genotypeToTemplate,
  ModelDescBuilder,
  modelDescToYaml,
} from '@tsnas/descs';
import { describe, expect, it } from 'vitest';
import { here, nas, TINY } from './helpers.js';

const ARCHAI_DESC = join(
  here,
  '..',
  '..',
  'descs',
  'src',
  '__tests__',
  'fixtures',
  'archai',
  'toy_legacy_final_model_desc.yaml',
);

/** Runs `args`, expects exit 2 with one `nas: error:` line matching `message`, and no stack. */
function rejects(args: string[], message: RegExp) {
  const r = nas(args);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr.match(/^nas: error: /gm)).toHaveLength(1);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A small DARTS_V2 desc as tsnas writes it. */
function descYaml(): string {
  const conf = {
    dataset: { name: 'synthetic', channels: 1, n_classes: 4 },
    n_cells: 3,
    n_reductions: 1,
    max_final_edges: 2,
    model_post_op: 'pool_adaptive_avg2d',
    params: {},
    aux_weight: 0,
    aux_tower_stride: 3,
    model_stems: { ops: ['stem_conv3x3'], stem_multiplier: 3, init_node_ch: 4 },
    cell: { n_nodes: 4, cell_post_op: 'concate_channels' },
  } as ConfModelDesc;
  return modelDescToYaml(new ModelDescBuilder().build(conf, genotypeToTemplate(DARTS_V2, conf)));
}

/** A checksummed safetensors file with one byte of its data flipped. */
function flippedSafetensors(metadata: Record<string, string> = {}): Buffer {
  const file = encodeSafetensors(
    new Map([['w', { shape: [4], data: Float32Array.from([1, 2, 3, 4]) }]]),
    metadata,
  );
  file[file.length - 3] ^= 0x04;
  return file;
}

describe('damaged input files (built binary): exit 2, the file named and left alone', () => {
  it('a profile whose includes form a cycle', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nas-damaged-'));
    const a = join(dir, 'a.yaml');
    writeFileSync(a, '__include__: b.yaml\nnas: {}\n');
    writeFileSync(join(dir, 'b.yaml'), '__include__: a.yaml\n');
    rejects(['darts', '--config', a, '--exp-dir', join(dir, 'x')], /include cycle: .*a\.yaml -> .*b\.yaml/);
    expect(existsSync(join(dir, 'x'))).toBe(false);
  });

  it('a truncated tsnas desc and a truncated Archai desc', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nas-damaged-'));
    const ours = join(dir, 'final_model_desc.yaml');
    const text = descYaml();
    writeFileSync(ours, text.slice(0, Math.floor(text.length / 2)));
    rejects(['desc', ours], new RegExp(`${esc(ours)}:\\d+:\\d+: `));
    rejects(
      ['darts', '--config', TINY, '--eval-only', '--desc', ours, '--exp-dir', join(dir, 'x')],
      new RegExp(esc(ours)),
    );
    const archai = join(dir, 'archai_final_model_desc.yaml');
    const archaiText = readFileSync(ARCHAI_DESC, 'utf8');
    writeFileSync(archai, archaiText.slice(0, Math.floor(archaiText.length / 3)));
    rejects(['desc', archai], new RegExp(`${esc(archai)}:`));
    expect(readFileSync(ours, 'utf8')).toBe(text.slice(0, Math.floor(text.length / 2)));
  });

  it('a genotype string with a broken edge list or a range of 10^12 states', () => {
    rejects(['desc', "Genotype(normal=[('sep_conv_3x3', 0)"], /genotype:1:\d+: expected/);
    const huge =
      "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], normal_concat=range(2, 1000000000000), reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1)], reduce_concat=[2])";
    rejects(['desc', huge], /genotype:1:\d+: range\(2, 1000000000000\) has 999999999998 states/);
  });

  it('a bit-flipped checkpoint is refused by its checksum before training, and kept', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nas-damaged-'));
    const exp = join(dir, 'run');
    const ckpt = join(exp, 'eval', 'checkpoint', 'checkpoint.safetensors');
    mkdirSync(dirname(ckpt), { recursive: true });
    const bytes = flippedSafetensors({ tsnas_state: '{"epoch":0}' });
    writeFileSync(ckpt, bytes);
    rejects(
      ['darts', '--config', TINY, '--eval-only', '--desc', 'darts_v2', '--exp-dir', exp, '--json'],
      new RegExp(`damaged checkpoint ${esc(ckpt)}: checksum mismatch`),
    );
    expect(readFileSync(ckpt).equals(bytes)).toBe(true);
  });

  it('a bit-flipped weights file given to nas export', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nas-damaged-'));
    const desc = join(dir, 'full_model_desc.yaml');
    writeFileSync(desc, descYaml());
    const weights = join(dir, 'weights.safetensors');
    writeFileSync(weights, flippedSafetensors());
    rejects(
      ['export', desc, '--weights', weights, '--onnx', join(dir, 'out.onnx')],
      new RegExp(`${esc(weights)}: checksum mismatch`),
    );
    expect(existsSync(join(dir, 'out.onnx'))).toBe(false);
  });

  it('a truncated CIFAR-10 batch names the batch file', () => {
    const root = mkdtempSync(join(tmpdir(), 'nas-damaged-'));
    const dir = join(root, 'cifar-10-batches-bin');
    mkdirSync(dir);
    const record = new Uint8Array(3073);
    for (const name of [
      'data_batch_1',
      'data_batch_2',
      'data_batch_3',
      'data_batch_4',
      'data_batch_5',
      'test_batch',
    ]) {
      writeFileSync(join(dir, `${name}.bin`), record);
    }
    const cut = join(dir, 'data_batch_3.bin');
    writeFileSync(cut, record.subarray(0, 3000));
    rejects(
      [
        'darts',
        '--config',
        TINY,
        '--dataset',
        'cifar10',
        '--dataroot',
        root,
        '--exp-dir',
        join(root, 'x'),
        '--backend',
        'cpu',
      ],
      new RegExp(`${esc(cut)} is not a CIFAR binary batch: its 3000 bytes`),
    );
  });
});
