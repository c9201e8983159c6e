import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alignLines } from './charts.js';
import { ReportError } from './errors.js';
import { readExperiment } from './read.js';
import { meanStd, renderReport, settledEpoch } from './render.js';
import { writeReport } from './write.js';

const lines = (rows: object[]) => `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`;
const epoch = (e: number, top1: number) => ({
  type: 'epoch',
  title: 't',
  epoch: e,
  lr: 0.1,
  train: { top1, loss: 1 - top1 },
  val: { top1: top1 / 2, loss: 1 },
});
const snap = (e: number, genotype: string | null, w = 0.5) => ({
  epoch: e,
  genotype,
  edges: [
    { cell: 0, cell_type: 'normal', node: 0, inputs: [1], weights: { skip_connect: w, sep_conv_3x3: 1 - w } },
  ],
});

function experiment(): string {
  const dir = mkdtempSync(join(tmpdir(), 'report-'));
  mkdirSync(join(dir, 'search'));
  writeFileSync(join(dir, 'config_used.yaml'), 'common:\n  seed: 3\ndataset:\n  name: synthetic\n');
  // Epoch 1 logged twice (a resume trained it again): the last line counts.
  writeFileSync(
    join(dir, 'search', 'metrics.jsonl'),
    lines([
      { type: 'step', title: 't', epoch: 0, step: 2, steps: 2, lr: 0.1, loss: 0.9, top1: 0.1 },
      epoch(0, 0.2),
      epoch(1, 0.3),
      epoch(1, 0.4),
    ]),
  );
  writeFileSync(
    join(dir, 'search', 'alphas.jsonl'),
    lines([snap(0, 'A'), snap(1, 'B', 0.6), snap(2, 'B', 0.7), snap(1, 'B', 0.65)]),
  );
  return dir;
}

describe('readExperiment', () => {
  it('reads what an unfinished run wrote, keeping the last line of an epoch logged twice', () => {
    const e = readExperiment(experiment());
    expect(e.summary).toBeNull();
    expect(e.notes[0]).toMatch(/summary.json is missing/);
    expect(e.config).toMatchObject({ seed: 3, dataset: 'synthetic' });
    expect(e.search!.epochs.map((p) => [p.epoch, p.train.top1])).toEqual([
      [0, 0.2],
      [1, 0.4],
    ]);
    expect(e.search!.steps).toHaveLength(1);
    expect(e.alphas.map((s) => [s.epoch, s.edges[0].weights.skip_connect])).toEqual([
      [0, 0.5],
      [1, 0.65],
      [2, 0.7],
    ]);
    expect(e.eval).toBeNull();
  });

  it('refuses a folder with nothing of an experiment, naming it', () => {
    const empty = mkdtempSync(join(tmpdir(), 'empty-'));
    expect(() => readExperiment(empty)).toThrow(ReportError);
    expect(() => readExperiment(empty)).toThrow(`${empty}: not an experiment folder`);
    const file = join(empty, 'f.txt');
    writeFileSync(file, 'x');
    expect(() => readExperiment(file)).toThrow('not a folder');
  });
});

describe('report maths', () => {
  it('the genotype settles at the first epoch after which it never changes', () => {
    expect(settledEpoch([snap(0, 'A'), snap(1, 'B'), snap(2, 'B')] as any)).toBe(1);
    expect(settledEpoch([snap(0, 'A'), snap(1, 'B'), snap(2, 'A')] as any)).toBe(2);
    expect(settledEpoch([snap(0, 'A'), snap(1, 'A')] as any)).toBe(0);
    expect(settledEpoch([snap(0, null)] as any)).toBeNull();
  });

  it('seed spreads use the sample standard deviation', () => {
    const { mean, std } = meanStd([0.8, 0.9, 1.0]);
    expect(mean).toBeCloseTo(0.9, 12);
    expect(std).toBeCloseTo(0.1, 12);
    expect(meanStd([0.5]).std).toBe(0);
  });

  it('curves of different lengths share one x axis with gaps', () => {
    const { x, series } = alignLines([
      {
        label: 'a',
        points: [
          [0, 1],
          [2, 3],
        ],
      },
      { label: 'b', points: [[1, 5]] },
      { label: 'empty', points: [] },
    ]);
    expect(x).toEqual([0, 1, 2]);
    expect(series).toEqual([
      { label: 'a', values: [1, null, 3] },
      { label: 'b', values: [null, 5, null] },
    ]);
  });
});

describe('renderReport', () => {
  it('inlines everything and keeps data from closing its script element', () => {
    const dir = experiment();
    writeFileSync(
      join(dir, 'summary.json'),
      JSON.stringify({ algo: 'darts', seed: 3, search: { genotype: '</script><script>alert(1)</script>' } }),
    );
    const html = renderReport([readExperiment(dir)], { generatedAt: new Date(0) });
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)="(?!data:)/);
    expect(html.match(/<\/script>/g)).toHaveLength(3); // data, uPlot, ours: nothing else closes one
    expect(html).toContain('&#60;/script&#62;'); // the genotype as text
    expect(html).toContain('The genotype stopped changing at epoch <b id="settled-epoch">1</b> of 3.');
    const data = JSON.parse(
      html.match(/<script type="application\/json" id="tsnas-data">(.*?)<\/script>/s)![1],
    );
    expect(data.heatmaps['exp0-alphas'].weights).toHaveLength(3);
    expect(Object.keys(data.charts).length).toBeGreaterThan(2);
  });

  it('writes EXP_DIR/report.html, or --out; a missing --out folder is an error', () => {
    const dir = experiment();
    const r = writeReport([dir]);
    expect(r.file).toBe(join(dir, 'report.html'));
    expect(r.partial).toEqual([dir]);
    expect(r.bytes).toBeGreaterThan(50_000); // uPlot alone is ~50 KB
    expect(() => writeReport([dir], { out: join(dir, 'no', 'r.html') })).toThrow(/does not exist/);
    expect(() => writeReport([])).toThrow(ReportError);
  });
});
