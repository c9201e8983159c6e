// The report page: one HTML file with its styles, scripts (uPlot and ours) and data inlined, so it
// opens from file:// with no network. Tables, cells and genotypes are plain HTML (readable without
// scripts); the page's script draws the charts and the alpha heat map with its epoch slider.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { alphaCharts, type ChartSpec, edgeLabel, overlayCharts, phaseCharts } from './charts.js';
import type { AlphaSnapshot, Experiment } from './read.js';

const require = createRequire(import.meta.url);
const asset = (name: string) => readFileSync(new URL(`../assets/${name}`, import.meta.url), 'utf8');

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON that is safe inside <script>: no `</script>` or `<!--` can end or bend the element. */
function scriptJson(data: unknown): string {
  return JSON.stringify(data)
    .replace(/</g, '\\u003c')
    .replace(/\u2028|\u2029/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

const svgImage = (svg: string, alt: string) =>
  `<img alt="${escapeHtml(alt)}" src="data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}">`;

const pct = (v: unknown) =>
  typeof v === 'number' && Number.isFinite(v) ? `${(v * 100).toFixed(2)}%` : 'n/a';
const secs = (v: unknown) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) return 'n/a';
  const m = Math.floor(v / 60);
  return m > 0 ? `${m}m ${Math.round(v - m * 60)}s` : `${v.toFixed(1)}s`;
};
const int = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v.toLocaleString('en-US') : 'n/a');

/** The first epoch from which the alphas' genotype never changes again (null: no genotypes). */
export function settledEpoch(snapshots: AlphaSnapshot[]): number | null {
  const withG = snapshots.filter((s) => s.genotype !== null);
  if (withG.length === 0) return null;
  let settled = withG[withG.length - 1].epoch;
  for (let i = withG.length - 2; i >= 0 && withG[i].genotype === withG[i + 1].genotype; i--)
    settled = withG[i].epoch;
  return settled;
}

export function meanStd(xs: number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  // Sample standard deviation (n - 1), as papers report seed spreads.
  const v = xs.length > 1 ? xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1) : 0;
  return { mean, std: Math.sqrt(v) };
}

interface Page {
  charts: Record<string, ChartSpec>;
  heatmaps: Record<
    string,
    { edges: string[]; primitives: string[]; epochs: number[]; weights: number[][][] }
  >;
}

function chartGrid(page: Page, id: string, specs: ChartSpec[], cls = 'charts'): string {
  if (specs.length === 0) return '';
  const divs = specs.map((s, i) => {
    page.charts[`${id}-${i}`] = s;
    return `<div class="chart" data-chart="${id}-${i}"></div>`;
  });
  return `<div class="${cls}">${divs.join('')}</div>`;
}

function summaryTable(e: Experiment): string {
  const s = e.summary ?? {};
  const rows: [string, string][] = [
    ['algorithm', `${s.algo ?? e.config.algo ?? 'unknown'}${s.algo_package ? ` (${s.algo_package})` : ''}`],
    ['dataset', String(s.dataset ?? e.config.dataset ?? 'unknown')],
    ['backend', String(s.backend ?? 'unknown')],
    ['seed', String(s.seed ?? e.config.seed ?? 'unknown')],
    ['profile', String(s.profile ?? 'unknown')],
    ['started', String(s.started_at ?? 'unknown')],
    ['finished', String(s.finished_at ?? 'not finished')],
  ];
  if (s.search) {
    rows.push(['search', `best val top1 ${pct(s.search.best_val_top1)} in ${secs(s.search.seconds)}`]);
    if (s.search.supernet_params) rows.push(['supernet weights', int(s.search.supernet_params)]);
  }
  if (s.eval) {
    rows.push(['eval', `${secs(s.eval.seconds)}, best train top1 ${pct(s.eval.best_train_top1)}`]);
    rows.push([
      'parameters',
      `${int(s.eval.params)} (${int(s.eval.params_without_aux)} without the auxiliary head)`,
    ]);
  }
  const body = rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('');
  const test = s.eval
    ? `<div class="headline"><span class="big" id="test-top1">${pct(s.eval.test_top1)}</span> test top1 <span class="muted">(top5 ${pct(s.eval.test_top5)})</span></div>`
    : `<div class="headline muted" id="test-top1">no test accuracy yet</div>`;
  return `${test}<table class="kv">${body}</table>`;
}

function cellsSection(e: Experiment): string {
  const parts: string[] = [];
  if (e.cells.normal)
    parts.push(
      `<figure>${svgImage(e.cells.normal, 'normal cell')}<figcaption>normal cell</figcaption></figure>`,
    );
  if (e.cells.reduce)
    parts.push(
      `<figure>${svgImage(e.cells.reduce, 'reduction cell')}<figcaption>reduction cell</figcaption></figure>`,
    );
  const genotype = e.summary?.search?.genotype;
  if (parts.length === 0 && !genotype) return '';
  return `<section><h2>Found cells</h2>${genotype ? `<p class="mono">${escapeHtml(genotype)}</p>` : ''}<div class="cells">${parts.join('')}</div></section>`;
}

function alphaSection(page: Page, e: Experiment, id: string): string {
  const snaps = e.alphas;
  if (snaps.length === 0) return '';
  const edges = snaps[0].edges;
  const primitives = [...new Set(snaps.flatMap((s) => s.edges.flatMap((x) => Object.keys(x.weights))))];
  page.heatmaps[id] = {
    edges: edges.map(edgeLabel),
    primitives,
    epochs: snaps.map((s) => s.epoch),
    weights: snaps.map((s) => s.edges.map((x) => primitives.map((p) => x.weights[p] ?? 0))),
  };
  const settled = settledEpoch(snaps);
  const rows = snaps
    .map((s, i) => {
      const changed = i > 0 && s.genotype !== snaps[i - 1].genotype;
      return `<tr${changed ? ' class="changed"' : ''}><td>${s.epoch}</td><td class="mono">${escapeHtml(s.genotype ?? 'n/a')}</td></tr>`;
    })
    .join('');
  const settledText =
    settled === null
      ? 'The network is not DARTS-shaped: no genotype per epoch.'
      : `The genotype stopped changing at epoch <b id="settled-epoch">${settled}</b> of ${snaps[snaps.length - 1].epoch + 1}.`;
  return `<section><h2>Architecture weights during the search</h2>
<p>softmax(alpha) of every edge after each search epoch (cells of a type share their alphas). ${settledText}</p>
<div class="heatmap" data-heatmap="${id}"></div>
${chartGrid(page, `${id}-edges`, alphaCharts(snaps), 'charts small')}
<h3>Genotype per epoch</h3><table class="genotypes"><tr><th>epoch</th><th>genotype the alphas give (changes highlighted)</th></tr>${rows}</table></section>`;
}

function kernelSection(e: Experiment): string {
  if (e.kernels.length === 0) return '';
  const figs = e.kernels.map(
    (k) =>
      `<figure>${svgImage(k.svg, k.name)}<figcaption>${escapeHtml(k.name)}${k.chosen ? `: chose ${escapeHtml(k.chosen.join(', '))}` : ''}</figcaption></figure>`,
  );
  return `<section><h2>DivNAS activation kernels</h2><div class="cells">${figs.join('')}</div></section>`;
}

function samplesSection(e: Experiment): string {
  if (!e.samples || e.samples.length === 0) return '';
  const best = e.samples.reduce(
    (b, r) => ((r.best_val_top1 ?? -1) > (b?.best_val_top1 ?? -1) ? r : b),
    e.samples[0],
  );
  const rows = e.samples
    .map(
      (r) =>
        `<tr${r === best ? ' class="best"' : ''}><td>${r.sample}</td><td data-v="${r.best_val_top1 ?? ''}">${pct(r.best_val_top1)}</td><td data-v="${r.best_train_top1 ?? ''}">${pct(r.best_train_top1)}</td><td data-v="${r.params ?? ''}">${int(r.params)}</td><td data-v="${r.seconds ?? ''}">${secs(r.seconds)}</td><td class="mono">${escapeHtml(r.genotype)}</td></tr>`,
    )
    .join('');
  return `<section><h2>Random samples</h2><table class="sortable"><thead><tr><th>sample</th><th>val top1</th><th>train top1</th><th>params</th><th>seconds</th><th>genotype</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function notesSection(e: Experiment): string {
  if (e.notes.length === 0) return '';
  return `<section class="notes"><h2>Notes</h2><ul>${e.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul></section>`;
}

function experimentBody(page: Page, e: Experiment, id: string): string {
  return [
    `<section><h2>Summary</h2>${summaryTable(e)}</section>`,
    cellsSection(e),
    e.search
      ? `<section><h2>Search</h2>${chartGrid(page, `${id}-search`, phaseCharts('search', e.search))}</section>`
      : '',
    alphaSection(page, e, `${id}-alphas`),
    kernelSection(e),
    samplesSection(e),
    e.postTrain
      ? `<section><h2>Post-train</h2>${chartGrid(page, `${id}-post`, phaseCharts('post-train', e.postTrain))}</section>`
      : '',
    e.eval
      ? `<section><h2>Evaluation</h2>${chartGrid(page, `${id}-eval`, phaseCharts('eval', e.eval))}</section>`
      : '',
    notesSection(e),
  ].join('\n');
}

function comparisonBody(page: Page, exps: Experiment[]): string {
  const rows = exps
    .map((e) => {
      const s = e.summary ?? {};
      const cell = (v: unknown, text: string) =>
        `<td data-v="${typeof v === 'number' ? v : ''}">${escapeHtml(text)}</td>`;
      return `<tr><td>${escapeHtml(e.name)}</td><td>${escapeHtml(String(s.algo ?? 'unknown'))}</td><td>${escapeHtml(String(s.dataset ?? e.config.dataset ?? ''))}</td>${cell(s.seed, String(s.seed ?? ''))}${cell(s.search?.seconds, secs(s.search?.seconds))}${cell(s.eval?.seconds, secs(s.eval?.seconds))}${cell(s.eval?.params, int(s.eval?.params))}${cell(s.eval?.test_top1, pct(s.eval?.test_top1))}</tr>`;
    })
    .join('');
  const groups = new Map<string, { seeds: unknown[]; tops: number[] }>();
  for (const e of exps) {
    const s = e.summary;
    if (typeof s?.eval?.test_top1 !== 'number') continue;
    const key = `${s.algo} on ${s.dataset} (${s.profile ?? 'profile?'})`;
    const g = groups.get(key) ?? { seeds: [], tops: [] };
    g.seeds.push(s.seed);
    g.tops.push(s.eval.test_top1);
    groups.set(key, g);
  }
  const sweep = [...groups]
    .map(([key, g]) => {
      const { mean, std } = meanStd(g.tops);
      return `<tr><td>${escapeHtml(key)}</td><td>${g.tops.length}</td><td>${escapeHtml(g.seeds.join(', '))}</td><td>${pct(mean)}</td><td>${g.tops.length > 1 ? `&plusmn; ${(std * 100).toFixed(2)}%` : 'n/a'}</td></tr>`;
    })
    .join('');
  return `<section><h2>Runs</h2><p class="muted">Click a column to sort.</p><table class="sortable"><thead><tr><th>run</th><th>algo</th><th>dataset</th><th>seed</th><th>search</th><th>eval</th><th>params</th><th>test top1</th></tr></thead><tbody>${rows}</tbody></table></section>
<section><h2>Seeds</h2><p class="muted">Runs of one algorithm, dataset and profile: mean and sample standard deviation of test top1.</p><table><tr><th>group</th><th>runs</th><th>seeds</th><th>mean test top1</th><th>std</th></tr>${sweep}</table></section>
<section><h2>Curves</h2>${chartGrid(page, 'overlay', overlayCharts(exps))}</section>`;
}

/** The whole page for one experiment, or a comparison of several. */
export function renderReport(exps: Experiment[], opts: { generatedAt?: Date } = {}): string {
  const page: Page = { charts: {}, heatmaps: {} };
  const single = exps.length === 1;
  const title = single ? `tsnas: ${exps[0].name}` : `tsnas: ${exps.length} experiments`;
  const body = single
    ? experimentBody(page, exps[0], 'exp0')
    : `${comparisonBody(page, exps)}\n${exps
        .map(
          (e, i) =>
            `<details><summary>${escapeHtml(e.name)}</summary>${experimentBody(page, e, `exp${i}`)}</details>`,
        )
        .join('\n')}`;
  const when = (opts.generatedAt ?? new Date()).toISOString();
  const sub = single ? escapeHtml(exps[0].dir) : exps.map((e) => escapeHtml(e.name)).join(', ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8')}</style>
<style>${asset('report.css')}</style>
</head><body>
<header><h1>${escapeHtml(title)}</h1><p class="muted">${sub}; report written ${when}</p></header>
<main>
${body}
</main>
<script type="application/json" id="tsnas-data">${scriptJson(page)}</script>
<script>${readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8')}</script>
<script>${asset('report.js')}</script>
</body></html>
`;
}
