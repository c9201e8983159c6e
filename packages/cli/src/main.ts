// The `nas` command line (DESIGN.md "Run contract"). Errors a user can fix print one line and exit
// with code 2; anything else is a bug and prints its stack with exit code 1.
import 'reflect-metadata';
import { existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '@tsnas/backend';
import { findUserConfig } from '@tsnas/config';
import {
  genotypeToString,
  ModelDescBuilder,
  modelDescToArchaiYaml,
  modelDescToGenotype,
  modelDescToYaml,
  saveArchaiModelDesc,
  saveModelDesc,
} from '@tsnas/descs';
import { Model } from '@tsnas/ops';
import {
  AlgoRegistry,
  BASE_PROFILE,
  createRunContainer,
  datasetProfile,
  ExperimentRunner,
  type ProfileKind,
  resolveTemplate,
  UsageError,
} from '@tsnas/runner';
import { loadConfig, tsnasProfileSchema } from '@tsnas/config';
import { renderModelCellsSvg } from '@tsnas/viz';
import { Command, CommanderError, Option } from 'commander';
import { builtinAlgos } from './builtins.js';
import { createReporter } from './progress.js';
import {
  addTrialsCommands,
  seedsLine,
  seedsOption,
  trialExecutorFactory,
  trialsOption,
} from './trials-commands.js';
import { addReportCommand, writeRunReport } from './report-command.js';
import { addExportCommand } from './export-command.js';

interface RunFlags {
  config?: string[];
  full?: boolean;
  toy?: boolean;
  dataset?: string;
  dataroot?: string;
  expDir?: string;
  seed?: number;
  backend?: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
  searchOnly?: boolean;
  evalOnly?: boolean;
  desc?: string;
  resume: boolean;
  json?: boolean;
  trials?: string;
  seeds?: number[];
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

function parseSeed(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new UsageError(`--seed: expected a non-negative integer, got '${v}'`);
  return n;
}

async function registry(cwd: string): Promise<AlgoRegistry> {
  const user = await findUserConfig(cwd);
  const plugins = (user?.config as any)?.plugins;
  return AlgoRegistry.discover({
    builtins: builtinAlgos(),
    cwd,
    plugins: Array.isArray(plugins) ? plugins : [],
  });
}

function fmtPct(v: number | null | undefined): string {
  return v === null || v === undefined || Number.isNaN(v) ? 'n/a' : `${(v * 100).toFixed(2)}%`;
}

function fmtSeconds(s: number): string {
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m ${Math.round(s - m * 60)}s` : `${s.toFixed(1)}s`;
}

async function runAlgo(algoName: string, overrides: string[], flags: RunFlags, cwd: string): Promise<void> {
  if (flags.full && flags.toy) throw new UsageError('--full and --toy exclude each other');
  const algo = (await registry(cwd)).get(algoName);
  const reporter = createReporter(flags.json ?? false);
  const profile: ProfileKind = flags.full ? 'full' : flags.toy ? 'toy' : 'default';
  try {
    const { expDir, summary } = await new ExperimentRunner().run({
      algo,
      profile,
      configFiles: (flags.config ?? []).map((f) => resolve(cwd, f)),
      overrides,
      expDir: flags.expDir,
      seed: flags.seed,
      backend: flags.backend,
      dataset: flags.dataset,
      dataroot: flags.dataroot,
      searchOnly: flags.searchOnly,
      evalOnly: flags.evalOnly,
      desc: flags.desc,
      resume: flags.resume,
      cwd,
      onEvent: (e) => reporter.onEvent(e),
      trialExecutor: trialExecutorFactory(flags.trials),
      ...(flags.seeds ? { seeds: flags.seeds } : {}),
    });
    reporter.stop();
    const lines = [
      '',
      `${summary.algo} on ${summary.dataset} (backend ${summary.backend}, seed ${summary.seed})`,
    ];
    if (summary.search) {
      lines.push(`  found cell   ${summary.search.genotype}`);
      lines.push(
        `  search       best val top1 ${fmtPct(summary.search.best_val_top1)} in ${fmtSeconds(summary.search.seconds)}`,
      );
    }
    if (summary.eval) {
      lines.push(
        `  eval         test top1 ${fmtPct(summary.eval.test_top1)}, top5 ${fmtPct(summary.eval.test_top5)} in ${fmtSeconds(summary.eval.seconds)}`,
      );
      lines.push(
        `  parameters   ${summary.eval.params.toLocaleString('en-US')} (${summary.eval.params_without_aux.toLocaleString('en-US')} without the auxiliary head)`,
      );
      if (summary.eval.seeds) lines.push(seedsLine(summary.eval));
    }
    lines.push(`  folder       ${expDir}`);
    const report = writeRunReport(expDir);
    lines.push(report.line);
    if (flags.json || !process.stdout.isTTY) {
      process.stdout.write(
        `${JSON.stringify({ kind: 'summary', exp_dir: expDir, report: report.file, summary })}\n`,
      );
    } else {
      process.stdout.write(`${lines.join('\n')}\n`);
    }
  } finally {
    reporter.stop();
  }
}

interface DescFlags {
  dataset?: string;
  config?: string[];
  json?: boolean;
  svg?: string;
  algo?: string;
  full?: boolean;
  toy?: boolean;
  genotype?: boolean;
  format?: 'archai' | 'tsnas';
  out?: string;
}

/**
 * `nas desc SPEC --genotype` and `--format archai|tsnas [--out FILE]`: the desc as given (a file as
 * it is; a genotype as its template under the profile), without building the network.
 */
async function convertDesc(spec: string, flags: DescFlags, conf: any, cwd: string): Promise<void> {
  if (flags.genotype && flags.format) throw new UsageError('--genotype and --format: give only one of them');
  const desc = await resolveTemplate(spec, conf.nas.eval.model_desc, cwd);
  if (flags.genotype) {
    const genotype = genotypeToString(modelDescToGenotype(desc));
    process.stdout.write(flags.json ? `${JSON.stringify({ spec, genotype })}\n` : `${genotype}\n`);
    return;
  }
  if (!flags.out) {
    process.stdout.write(flags.format === 'archai' ? modelDescToArchaiYaml(desc) : modelDescToYaml(desc));
    return;
  }
  const out = resolve(cwd, flags.out);
  if (existsSync(resolve(cwd, spec)) && resolve(cwd, spec) === out) {
    throw new UsageError(`--out ${flags.out}: that is the input desc file; write to another file`);
  }
  if (flags.format === 'archai') await saveArchaiModelDesc(desc, out);
  else await saveModelDesc(desc, out); // .yaml/.yml or .json
  process.stdout.write(
    flags.json
      ? `${JSON.stringify({ spec, format: flags.format, out })}\n`
      : `wrote ${out} (${flags.format} desc)\n`,
  );
}

/**
 * `nas desc`: the evaluation network a desc file or genotype becomes under a profile. Without
 * --algo the profile is the shared base, whose nas.eval section is the DARTS paper's network.
 */
async function describe(spec: string, overrides: string[], flags: DescFlags, cwd: string): Promise<void> {
  const files = [BASE_PROFILE];
  const ds = flags.dataset ?? 'fashion_mnist';
  const dsFile = datasetProfile(ds);
  if (!dsFile && flags.dataset) throw new UsageError(`--dataset: no profile for '${ds}'`);
  if (dsFile) files.push(dsFile);
  let algoSource = null;
  if (flags.algo) {
    algoSource = (await registry(cwd)).get(flags.algo);
    const p = flags.full
      ? algoSource.plugin.fullConfig
      : flags.toy
        ? algoSource.plugin.toyConfig
        : algoSource.plugin.config;
    if (p) files.push(p instanceof URL ? fileURLToPath(p) : p);
  }
  files.push(...(flags.config ?? []).map((f) => resolve(cwd, f)));
  const loaded = await loadConfig(files, {
    overrides: [...(flags.dataset ? [`dataset.name=${flags.dataset}`] : []), ...overrides],
    cwd,
    schema: tsnasProfileSchema,
  });
  const conf = loaded.tree as any;
  if (flags.out && !flags.format) throw new UsageError('--out: only with --format archai|tsnas');
  if (flags.genotype || flags.format) return convertDesc(spec, flags, conf, cwd);
  await initBackend({ backend: 'cpu' });
  const template = await resolveTemplate(spec, conf.nas.eval.model_desc, cwd);
  const container = createRunContainer(algoSource, conf);
  const desc = new ModelDescBuilder().build(conf.nas.eval.model_desc, template);
  const model = new Model(desc, { container, affine: true, droppath: false });
  const params = model.paramCount({ includeAux: true });
  const paramsWithoutAux = model.paramCount({ includeAux: false });
  model.dispose();
  const genotype = genotypeToString(modelDescToGenotype(desc));
  if (flags.svg) {
    const { normal, reduce } = await renderModelCellsSvg(desc);
    const base = flags.svg.replace(/\.svg$/, '');
    if (normal) writeFileSync(resolve(cwd, `${base}.svg`), normal);
    if (reduce) writeFileSync(resolve(cwd, `${base}_reduce.svg`), reduce);
  }
  const md = conf.nas.eval.model_desc;
  const info = {
    spec,
    dataset: conf.dataset.name,
    genotype,
    n_cells: desc.cellDescs().length,
    init_node_ch: md.model_stems.init_node_ch,
    stems: md.model_stems.ops.length,
    params,
    params_without_aux: paramsWithoutAux,
    ...(flags.svg ? { svg: [resolve(cwd, flags.svg)] } : {}),
  };
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    [
      `${spec} on ${info.dataset}: ${info.n_cells} cells, ${info.init_node_ch} initial channels, ${info.stems} stem(s)`,
      `  genotype     ${genotype}`,
      `  parameters   ${params.toLocaleString('en-US')} (${paramsWithoutAux.toLocaleString('en-US')} without the auxiliary head)`,
      '',
    ].join('\n'),
  );
}

async function listAlgos(cwd: string, json: boolean): Promise<void> {
  const reg = await registry(cwd);
  const rows = reg.list().map((s) => ({
    name: s.plugin.name,
    package: s.packageName,
    version: s.version,
    origin: s.origin,
    description: s.plugin.description ?? '',
  }));
  if (json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  const w = Math.max(...rows.map((r) => r.name.length), 4);
  const p = Math.max(...rows.map((r) => `${r.package}@${r.version}`.length), 7);
  for (const r of rows) {
    process.stdout.write(
      `${r.name.padEnd(w)}  ${`${r.package}@${r.version}`.padEnd(p)}  ${r.origin.padEnd(9)}  ${r.description}\n`,
    );
  }
}

/** This package's version (`nas --version`), read from package.json beside src/ and dist/. */
const VERSION: string = createRequire(import.meta.url)('../package.json').version;

/** `nas <algo> --help`: what the algorithm is and where its profile lives, after the run options. */
async function algoHelp(name: string, cwd: string): Promise<string> {
  const s = (await registry(cwd)).get(name);
  const config = s.plugin.config instanceof URL ? fileURLToPath(s.plugin.config) : s.plugin.config;
  return [
    '',
    `Algorithm '${name}'${s.plugin.description ? `: ${s.plugin.description}` : ''}`,
    `  package  ${s.packageName}@${s.version} (${s.origin})`,
    `  profile  ${config} (--full and --toy: its _full/_toy variants)`,
    '',
  ].join('\n');
}

export function buildProgram(cwd: string): Command {
  const program = new Command('nas')
    .description('Neural architecture search for TypeScript (DARTS, random search, DivNAS) on TensorFlow.js')
    .version(VERSION, '-V, --version', 'print the version of @tsnas/cli')
    .exitOverride()
    .showHelpAfterError(false);

  program
    .command('algos')
    .description('list the algorithms found, built-in or installed, with package and version')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => listAlgos(cwd, o.json ?? false));

  program
    .command('desc')
    .description(
      'print the evaluation network of a desc file or genotype (name or string): cells, parameters',
    )
    .argument(
      '<spec>',
      "desc file (tsnas .yaml/.json, or Archai's final_model_desc.yaml), genotype name (darts_v2) or Genotype(...) string",
    )
    .argument('[overrides...]', 'key.path=value overrides of the profile')
    .option('--dataset <name>', 'dataset profile (fashion_mnist, mnist, cifar10, cifar100)')
    .option('--config <file>', 'extra profile file (repeatable)', collect)
    .option('--algo <name>', "use this algorithm's profile instead of the shared base")
    .option('--full', "with --algo: the algorithm's paper-scale profile")
    .option('--toy', "with --algo: the algorithm's smoke-test profile")
    .option('--json', 'print JSON')
    .option('--svg <file>', 'draw the normal cell to FILE and the reduction cell to FILE_reduce.svg')
    .option('--genotype', 'print only the DARTS genotype of the desc as given (a cell-based desc)')
    .addOption(
      new Option(
        '--format <format>',
        "write the desc as given, converted: 'archai' (PyYAML python objects, for Archai's ModelDesc.load) or 'tsnas' (plain YAML/JSON); to --out or stdout",
      ).choices(['archai', 'tsnas']),
    )
    .option('--out <file>', 'with --format: the file to write (tsnas: .yaml/.yml/.json); default stdout')
    .action(async (spec: string, overrides: string[], o: DescFlags) => describe(spec, overrides, o, cwd));

  program
    .command('run', { isDefault: true })
    .description('search with <algo>, then train and test the found network (nas <algo> ...)')
    .argument('<algo>', 'algorithm name (see nas algos)')
    .argument('[overrides...]', 'key.path=value overrides, e.g. nas.search.trainer.epochs=2')
    .option('--config <file>', 'extra profile file (repeatable)', collect)
    .option('--full', 'paper-scale profile (CIFAR-10, 8-cell search, 20-cell eval)')
    .option('--toy', 'smoke-test profile (about a minute)')
    .option('--dataset <name>', 'dataset (fashion_mnist, mnist, cifar10, cifar100)')
    .option(
      '--dataroot <dir>',
      'where datasets are (default: $TSNAS_DATAROOT, ~/.cache/tsnas/datasets, system)',
    )
    .option('--exp-dir <dir>', 'experiment folder (default runs/<algo>-<dataset>-<time>); reuse it to resume')
    .option('--seed <n>', 'random seed (common.seed)', parseSeed)
    .addOption(new Option('--backend <name>', 'tfjs backend').choices(['auto', 'tensorflow', 'wasm', 'cpu']))
    .option('--search-only', 'stop after the search')
    .option('--eval-only', 'skip the search and train the network of --desc')
    .option('--desc <spec>', 'with --eval-only: desc file or genotype to evaluate')
    .option('--no-resume', 'refuse to continue a run already in --exp-dir')
    .option('--json', 'JSON lines even on a terminal')
    .addOption(trialsOption())
    .addOption(seedsOption())
    .action(async (algo: string, overrides: string[], o: RunFlags) => runAlgo(algo, overrides, o, cwd));
  addReportCommand(program, cwd);
  addTrialsCommands(program, cwd, registry);
  addExportCommand(program, cwd);
  return program;
}

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: string[], cwd = process.cwd()): Promise<number> {
  const program = buildProgram(cwd);
  // `nas darts --help` means the run command's help: name it, or commander shows the top level's.
  const subcommands = new Set(['help', ...program.commands.map((c) => c.name())]);
  const algo =
    argv[0] !== undefined && !argv[0].startsWith('-') && !subcommands.has(argv[0]) ? argv[0] : undefined;
  const wantsHelp = argv.includes('--help') || argv.includes('-h');
  try {
    await program.parseAsync(algo && wantsHelp ? ['run', ...argv] : argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander already printed its message (unknown option, missing argument, --help).
      if (e.code === 'commander.helpDisplayed' && algo) {
        try {
          process.stdout.write(await algoHelp(algo, cwd));
        } catch (err) {
          process.stderr.write(`nas: error: ${(err as Error).message}\n`);
          return 2;
        }
      }
      return e.exitCode === 0 ? 0 : 2;
    }
    const err = e as Error & { exitCode?: number };
    if (err.exitCode === 2) {
      process.stderr.write(`nas: error: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`nas: internal error: ${err.stack ?? err.message}\n`);
    return 1;
  }
}
