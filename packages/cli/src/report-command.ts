// `nas report`: the experiment as one HTML page (see @tsnas/report), and the page every run writes.
import { spawn } from 'node:child_process';
import { type WrittenReport, writeReport } from '@tsnas/report';
import type { Command } from 'commander';

/** Opens a file with the desktop's handler; on a machine without one, says where the file is. */
function openFile(file: string): void {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  const child = spawn(cmd, [file], { detached: true, stdio: 'ignore' });
  child.on('error', () =>
    process.stderr.write(`nas report: could not start ${cmd}; open ${file} in a browser\n`),
  );
  child.unref();
}

function describeReport(r: WrittenReport): string {
  const kb = (r.bytes / 1024).toFixed(0);
  const partial = r.partial.length > 0 ? ` (unfinished: ${r.partial.join(', ')})` : '';
  return `report       ${r.file} (${kb} KiB, ${r.experiments} experiment${r.experiments > 1 ? 's' : ''})${partial}`;
}

export function addReportCommand(program: Command, cwd: string): void {
  program
    .command('report')
    .description('write one self-contained HTML page of an experiment, or a comparison of several')
    .argument('<exp-dirs...>', 'experiment folders (runs/<algo>-<dataset>-<time>)')
    .option('--out <file>', 'where to write (default: EXP_DIR/report.html; several: ./report.html)')
    .option('--open', 'open the page in the default browser')
    .action(async (dirs: string[], o: { out?: string; open?: boolean }) => {
      const r = writeReport(dirs, { out: o.out, cwd });
      process.stdout.write(`${describeReport(r)}\n`);
      if (o.open) openFile(r.file);
    });
}

/** The report a finished run writes into its folder; a failure to draw it does not fail the run. */
export function writeRunReport(expDir: string): { line: string; file: string | null } {
  try {
    const r = writeReport([expDir]);
    return { line: `  ${describeReport(r)}`, file: r.file };
  } catch (e) {
    return { line: `  report       not written: ${(e as Error).message}`, file: null };
  }
}
