// Chart data as the page's script hands it to uPlot: one shared x axis and one value per series per
// x (null where a series has no point), so curves of different lengths overlay on one chart.
import type { AlphaSnapshot, Experiment, PhaseCurves } from './read.js';

export interface ChartSeries {
  label: string;
  values: (number | null)[];
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  x: number[];
  series: ChartSeries[];
  /** Values are fractions shown as percentages. */
  percent?: boolean;
  /** A small multiple: no legend values, a short height. */
  small?: boolean;
}

interface Line {
  label: string;
  points: [number, number][];
}

/** Aligns lines on the union of their x values. Lines without a point are left out. */
export function alignLines(lines: Line[]): { x: number[]; series: ChartSeries[] } {
  const kept = lines.filter((l) => l.points.length > 0);
  const x = [...new Set(kept.flatMap((l) => l.points.map(([px]) => px)))].sort((a, b) => a - b);
  const at = new Map(x.map((v, i) => [v, i]));
  const series = kept.map((l) => {
    const values: (number | null)[] = x.map(() => null);
    for (const [px, py] of l.points) values[at.get(px)!] = Number.isFinite(py) ? py : null;
    return { label: l.label, values };
  });
  return { x, series };
}

function chart(title: string, xLabel: string, yLabel: string, lines: Line[], extra: Partial<ChartSpec> = {}) {
  const { x, series } = alignLines(lines);
  return series.length > 0 ? { title, xLabel, yLabel, x, series, ...extra } : null;
}

/** Accuracy, loss and learning rate per epoch, and the logged steps' loss, of one phase. */
export function phaseCharts(name: string, c: PhaseCurves | null): ChartSpec[] {
  if (!c) return [];
  const ep = c.epochs;
  const pts = (f: (e: (typeof ep)[number]) => number | undefined): [number, number][] =>
    ep.flatMap((e) => {
      const v = f(e);
      return v === undefined ? [] : [[e.epoch, v] as [number, number]];
    });
  // Steps on the epoch axis: step s of n in epoch e sits at e + s/n, just before the epoch's point.
  const stepX = (s: PhaseCurves['steps'][number]) => s.epoch + s.step / Math.max(s.steps, 1) - 1;
  const out = [
    chart(
      `${name}: top1`,
      'epoch',
      'top1',
      [
        { label: 'train top1', points: pts((e) => e.train.top1) },
        { label: 'val top1', points: pts((e) => e.val?.top1) },
      ],
      { percent: true },
    ),
    chart(`${name}: loss`, 'epoch', 'loss', [
      { label: 'train loss', points: pts((e) => e.train.loss) },
      { label: 'val loss', points: pts((e) => e.val?.loss) },
      { label: 'step loss', points: c.steps.map((s) => [stepX(s), s.loss]) },
    ]),
    chart(`${name}: learning rate`, 'epoch', 'lr', [
      { label: 'lr', points: c.steps.length > 0 ? c.steps.map((s) => [stepX(s), s.lr]) : pts((e) => e.lr) },
    ]),
  ];
  return out.filter((s): s is ChartSpec => s !== null && s.x.length > 0);
}

export function edgeLabel(e: AlphaSnapshot['edges'][number]): string {
  return `${e.cell_type} node ${e.node} <- ${e.inputs.map((i) => (i < 2 ? `in${i}` : `n${i - 2}`)).join('+')}`;
}

/** One small chart per edge: each primitive's softmax weight over the search epochs. */
export function alphaCharts(snapshots: AlphaSnapshot[]): ChartSpec[] {
  if (snapshots.length === 0) return [];
  return snapshots[0].edges.map((edge0, k) => {
    const names = Object.keys(edge0.weights);
    const lines = names.map((n) => ({
      label: n,
      points: snapshots.flatMap((s) => {
        const w = s.edges[k]?.weights[n];
        return w === undefined ? [] : [[s.epoch, w] as [number, number]];
      }),
    }));
    return chart(edgeLabel(edge0), 'epoch', 'softmax(alpha)', lines, { small: true })!;
  });
}

/** Overlaid per-epoch curves of several experiments (the comparison page). */
export function overlayCharts(exps: Experiment[]): ChartSpec[] {
  const line = (
    e: Experiment,
    c: PhaseCurves | null,
    f: (p: PhaseCurves['epochs'][number]) => number | undefined,
  ) => ({
    label: e.name,
    points: (c?.epochs ?? []).flatMap((p) => {
      const v = f(p);
      return v === undefined ? [] : [[p.epoch, v] as [number, number]];
    }),
  });
  return [
    chart(
      'search: val top1',
      'epoch',
      'top1',
      exps.map((e) => line(e, e.search, (p) => p.val?.top1)),
      { percent: true },
    ),
    chart(
      'eval: train top1',
      'epoch',
      'top1',
      exps.map((e) => line(e, e.eval, (p) => p.train.top1)),
      { percent: true },
    ),
    chart(
      'eval: val top1',
      'epoch',
      'top1',
      exps.map((e) => line(e, e.eval, (p) => p.val?.top1)),
      { percent: true },
    ),
    chart(
      'eval: train loss',
      'epoch',
      'loss',
      exps.map((e) => line(e, e.eval, (p) => p.train.loss)),
    ),
  ].filter((s): s is ChartSpec => s !== null && s.x.length > 0);
}
