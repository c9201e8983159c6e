// `nas report`: reads the folders, renders the page and writes it next to the experiment (one) or
// where --out says (several: report.html in the working folder by default).
import { existsSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ReportError } from './errors.js';
import { readExperiment } from './read.js';
import { renderReport } from './render.js';

export interface WrittenReport {
  file: string;
  bytes: number;
  experiments: number;
  /** Folders whose run had not finished (no summary.json). */
  partial: string[];
}

export function writeReport(dirs: string[], opts: { out?: string; cwd?: string } = {}): WrittenReport {
  const cwd = opts.cwd ?? process.cwd();
  if (dirs.length === 0)
    throw new ReportError('name at least one experiment folder (e.g. runs/darts-fashion_mnist-...)');
  const exps = dirs.map((d) => readExperiment(resolve(cwd, d)));
  const file = opts.out
    ? resolve(cwd, opts.out)
    : exps.length === 1
      ? join(exps[0].dir, 'report.html')
      : resolve(cwd, 'report.html');
  const parent = dirname(file);
  if (!existsSync(parent) || !statSync(parent).isDirectory())
    throw new ReportError(`--out ${opts.out ?? file}: folder ${parent} does not exist`);
  if (existsSync(file) && statSync(file).isDirectory())
    throw new ReportError(`--out ${opts.out ?? file}: is a folder (expected an .html file name)`);
  const html = renderReport(exps);
  // Written beside and renamed: a reader never sees half a page, an old report stays until then.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, html);
  renameSync(tmp, file);
  return {
    file,
    bytes: Buffer.byteLength(html),
    experiments: exps.length,
    partial: exps.filter((e) => e.summary === null).map((e) => e.dir),
  };
}
