// Archai's SearchCombinations (§8.4) as a wrapper any algorithm's searcher runs under: a macro
// sweep over reductions x cells x nodes of the search network (`nas.search.combinations`), each
// point searched by the run's searcher in its own folder and post-trained as a trial; the best by
// post-train validation top1 is the search's result. Unlike Archai it works on its own: the nodes
// of a point are applied (Archai's base builder ignored them) and the table has a fixed place.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '@tsnas/backend';
import { genotypeToString, loadModelDesc, modelDescToGenotype, saveModelDesc } from '@tsnas/descs';
import { UsageError } from './errors.js';
import type { PhaseContext } from './context.js';
import { Searcher, type SearchResult, writeCellPictures } from './phases.js';
import type { TrialResult } from './trials.js';

export interface CombinationsConf {
  max_reductions: number;
  max_cells: number;
  max_nodes: number;
}

/** One macro point, as search/combinations.{json,tsv} list it. */
export interface CombinationRow {
  reductions: number;
  cells: number;
  nodes: number;
  genotype: string;
  /** Parameters of the post-trained network (the search network's size with the found cell). */
  params: number | null;
  train_top1: number | null;
  val_top1: number | null;
  /** Search plus post-train time of the point. */
  seconds: number;
  /** The point's folder, relative to the experiment folder. */
  dir: string;
}

export interface CombinationsTable {
  /** Index into rows of the point kept (highest post-train val top1; later points win ties, as Archai's >=). */
  best: number;
  rows: CombinationRow[];
}

const TSV_COLUMNS = [
  'reductions',
  'cells',
  'nodes',
  'params',
  'train_top1',
  'val_top1',
  'seconds',
  'genotype',
] as const;

/** `nas.search.combinations`, checked against the search network's own sizes (the sweep's start). */
export function combinationsConf(conf: any): CombinationsConf | null {
  const raw = conf?.nas?.search?.combinations;
  if (raw === null || raw === undefined || raw === false) return null;
  const md = conf.nas.search.model_desc;
  const start = { max_reductions: md.n_reductions, max_cells: md.n_cells, max_nodes: md.cell.n_nodes };
  const out = { ...start } as CombinationsConf;
  for (const key of Object.keys(start) as (keyof CombinationsConf)[]) {
    const v = raw[key] ?? start[key];
    if (!Number.isInteger(v) || v < start[key]) {
      throw new UsageError(
        `nas.search.combinations.${key}: expected an integer >= ${start[key]} (the search model_desc's ${key.replace('max_', key === 'max_nodes' ? 'cell.n_' : 'n_')}), got ${JSON.stringify(v)}`,
      );
    }
    out[key] = v;
  }
  const post = conf.nas.search.post_train;
  if (!(Number(post?.trainer?.epochs) > 0)) {
    throw new UsageError(
      `nas.search.combinations ranks its points by post-train accuracy: nas.search.post_train.trainer.epochs must be > 0 (got ${JSON.stringify(post?.trainer?.epochs)})`,
    );
  }
  return out;
}

/** The macro points in Archai's order (reductions, then cells, then nodes, each inclusive). */
export function macroPoints(
  conf: any,
  c: CombinationsConf,
): { reductions: number; cells: number; nodes: number }[] {
  const md = conf.nas.search.model_desc;
  const out = [];
  for (let r = md.n_reductions; r <= c.max_reductions; r++)
    for (let cells = md.n_cells; cells <= c.max_cells; cells++)
      for (let n = md.cell.n_nodes; n <= c.max_nodes; n++) out.push({ reductions: r, cells, nodes: n });
  return out;
}

function toTsv(rows: CombinationRow[]): string {
  const cell = (v: unknown) => (v === null || v === undefined ? '' : String(v));
  return `${[TSV_COLUMNS.join('\t'), ...rows.map((r) => TSV_COLUMNS.map((k) => cell(r[k])).join('\t'))].join('\n')}\n`;
}

/**
 * Runs `searcher` once per macro point in `<exp-dir>/search/combinations/r<R>_c<C>_n<N>/` and
 * post-trains each point's desc. A finished point (its row in combinations.json) is not run again;
 * an interrupted one resumes from its own checkpoints.
 */
export async function searchCombinations(ctx: PhaseContext, searcher: Searcher): Promise<SearchResult> {
  const c = combinationsConf(ctx.conf)!;
  const points = macroPoints(ctx.conf, c);
  const dir = join(ctx.expDir, 'search');
  mkdirSync(dir, { recursive: true });
  const jsonFile = join(dir, 'combinations.json');
  const done = new Map<string, CombinationRow>();
  if (existsSync(jsonFile)) {
    for (const r of (JSON.parse(readFileSync(jsonFile, 'utf8')) as CombinationsTable).rows)
      done.set(`${r.reductions},${r.cells},${r.nodes}`, r);
  }
  ctx.emit({
    kind: 'info',
    phase: 'search',
    message: `search combinations: ${points.length} macro point(s) (reductions ${ctx.conf.nas.search.model_desc.n_reductions}-${c.max_reductions}, cells ${ctx.conf.nas.search.model_desc.n_cells}-${c.max_cells}, nodes ${ctx.conf.nas.search.model_desc.cell.n_nodes}-${c.max_nodes})${done.size > 0 ? `, ${done.size} done before` : ''}`,
  });
  const rows: CombinationRow[] = [];
  const write = async () => {
    let best = -1;
    rows.forEach((r, i) => {
      if (
        best < 0 ||
        (r.val_top1 ?? Number.NEGATIVE_INFINITY) >= (rows[best].val_top1 ?? Number.NEGATIVE_INFINITY)
      )
        best = i;
    });
    const table: CombinationsTable = { best, rows };
    await writeFileAtomic(jsonFile, `${JSON.stringify(table, null, 2)}\n`);
    await writeFileAtomic(join(dir, 'combinations.tsv'), toTsv(rows));
    return table;
  };
  for (const p of points) {
    const key = `${p.reductions},${p.cells},${p.nodes}`;
    const rel = join('search', 'combinations', `r${p.reductions}_c${p.cells}_n${p.nodes}`);
    const previous = done.get(key);
    if (previous && existsSync(join(ctx.expDir, rel, 'search', 'final_model_desc.yaml'))) {
      rows.push(previous);
      continue;
    }
    const conf = structuredClone(ctx.conf);
    const md = conf.nas.search.model_desc;
    md.n_reductions = p.reductions;
    md.n_cells = p.cells;
    md.cell.n_nodes = p.nodes;
    const pointCtx: PhaseContext = { ...ctx, conf, expDir: join(ctx.expDir, rel) };
    mkdirSync(pointCtx.expDir, { recursive: true });
    ctx.emit({
      kind: 'phase_start',
      phase: 'search',
      detail: `macro point ${rows.length + 1}/${points.length}: ${p.reductions} reduction(s), ${p.cells} cells, ${p.nodes} nodes`,
    });
    const t0 = performance.now();
    const result = await searcher.search(pointCtx);
    // The base searcher post-trains already (a cached trial then); other searchers may not.
    const post: TrialResult | null = await new Searcher().postTrain(pointCtx, result.desc);
    rows.push({
      ...p,
      genotype: result.genotype,
      params: post?.params ?? null,
      train_top1: post?.bestTrainTop1 ?? null,
      val_top1: post?.bestValTop1 ?? null,
      seconds: (performance.now() - t0) / 1000,
      dir: rel,
    });
    await write();
  }
  const loopEnd = performance.now();
  const table = await write();
  const best = table.rows[table.best];
  const desc = await loadModelDesc(join(ctx.expDir, best.dir, 'search', 'final_model_desc.yaml'));
  ctx.emit({
    kind: 'info',
    phase: 'search',
    message: `best macro point: ${best.reductions} reduction(s), ${best.cells} cells, ${best.nodes} nodes, val top1 ${best.val_top1 === null ? 'n/a' : (best.val_top1 * 100).toFixed(2)}%`,
  });
  await saveModelDesc(desc, join(dir, 'final_model_desc.yaml'));
  await writeCellPictures(desc, ctx.expDir);
  return {
    desc,
    genotype: genotypeToString(modelDescToGenotype(desc)),
    bestValTop1: best.val_top1,
    // Each point's own time (kept across resumes), plus the bookkeeping here.
    seconds: table.rows.reduce((t, r) => t + r.seconds, 0) + (performance.now() - loopEnd) / 1000,
    params: best.params,
  };
}
