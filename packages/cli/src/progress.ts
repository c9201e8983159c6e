// What a run shows while it works: progress bars with loss, accuracy and ETA on a terminal, JSON
// lines elsewhere (CI, pipes), so a log can be parsed as easily as it can be read.
import type { RunEvent } from '@tsnas/runner';
import cliProgress from 'cli-progress';

export interface Reporter {
  onEvent(e: RunEvent): void;
  /** Prints a line without tearing the bars. */
  log(line: string): void;
  stop(): void;
}

const pct = (v: number | undefined) =>
  v === undefined || Number.isNaN(v) ? '  -  ' : `${(v * 100).toFixed(1)}%`;

export class JsonLinesReporter implements Reporter {
  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {}
  onEvent(e: RunEvent): void {
    if (e.kind === 'step' && !e.logged) return;
    if (e.kind === 'trial' && e.event?.kind === 'step' && !e.event.logged) return;
    this.out.write(`${JSON.stringify({ time: new Date().toISOString(), ...e })}\n`);
  }
  log(line: string): void {
    this.out.write(`${JSON.stringify({ time: new Date().toISOString(), kind: 'message', message: line })}\n`);
  }
  stop(): void {}
}

export class TerminalReporter implements Reporter {
  // One MultiBar per training phase: stopping it leaves its last state on screen, so the search's
  // final bars stay visible above the eval's.
  private multi: cliProgress.MultiBar | null = null;
  private epochBar: cliProgress.SingleBar | null = null;
  private stepBar: cliProgress.SingleBar | null = null;
  // Trials on workers (--trials): one bar per running trial and one line of queue counts.
  private trialBars = new Map<string, cliProgress.SingleBar>();
  private countsBar: cliProgress.SingleBar | null = null;

  private newMulti(): cliProgress.MultiBar {
    return new cliProgress.MultiBar(
      {
        clearOnComplete: false,
        hideCursor: true,
        etaBuffer: 50,
        format: ' {phase} |{bar}| {label} {value}/{total} | {info} | ETA {eta_formatted}',
        barsize: 24,
        autopadding: true,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  onEvent(e: RunEvent): void {
    switch (e.kind) {
      case 'phase_start':
        this.log(`[${e.phase}] ${e.detail}`);
        break;
      case 'info':
        this.log(`[${e.phase}] ${e.message}`);
        break;
      case 'dataset':
        this.log(
          `[${e.phase}] ${e.name}/${e.split}: ${e.samples} images (${e.origin}${e.dir ? `: ${e.dir}` : ''})`,
        );
        break;
      case 'fit_start': {
        this.stop();
        this.multi = this.newMulti();
        const phase = e.phase.padEnd(6);
        this.epochBar = this.multi.create(e.epochs, e.startEpoch, { phase, label: 'epoch', info: '' });
        this.stepBar = this.multi.create(e.steps, 0, { phase, label: 'step ', info: '' });
        if (e.startEpoch > 0) this.log(`[${e.phase}] resuming after epoch ${e.startEpoch}`);
        break;
      }
      case 'step':
        if (e.step === 1)
          this.stepBar?.start(e.steps, 0, { phase: e.phase.padEnd(6), label: 'step ', info: '' });
        this.stepBar?.update(e.step, { info: `loss ${e.loss.toFixed(3)} top1 ${pct(e.top1)}` });
        break;
      case 'epoch_end': {
        const val = e.val ? ` val top1 ${pct(e.val.top1)}` : '';
        this.epochBar?.update(e.epoch + 1, {
          info: `loss ${e.train.loss.toFixed(3)} top1 ${pct(e.train.top1)}${val} lr ${e.lr.toPrecision(3)}`,
        });
        break;
      }
      case 'test':
        this.log(
          `[${e.phase}] test top1 ${pct(e.test.top1)} top5 ${pct(e.test.top5)} loss ${e.test.loss.toFixed(4)}`,
        );
        break;
      case 'fit_end':
        this.stop();
        break;
      case 'trial':
        this.onTrial(e);
        break;
      case 'trial_counts': {
        this.multi ??= this.newMulti();
        const counts = `waiting ${e.waiting + e.delayed}, running ${e.active}, done ${e.completed}, failed ${e.failed}`;
        this.countsBar ??= this.multi.create(0, 0, { counts }, { format: ` queue  ${e.queue} | {counts}` });
        this.countsBar.update(0, { counts });
        break;
      }
      default:
        break;
    }
  }

  private onTrial(e: Extract<RunEvent, { kind: 'trial' }>): void {
    if (e.message) this.log(`[${e.phase}] ${e.message}`);
    if (e.state === 'queued' || e.state === 'cached' || e.state === 'stalled') return;
    this.multi ??= this.newMulti();
    let bar = this.trialBars.get(e.id);
    if (!bar) {
      bar = this.multi.create(1, 0, { phase: 'trial ', label: e.id, info: e.worker ? `on ${e.worker}` : '' });
      this.trialBars.set(e.id, bar);
    }
    const ev = e.event;
    if (e.state === 'completed')
      bar.update(bar.getTotal(), { info: `done${e.worker ? ` on ${e.worker}` : ''}` });
    else if (e.state === 'failed') bar.update({ info: 'failed' });
    else if (ev?.kind === 'fit_start') {
      bar.setTotal(ev.epochs);
      bar.update(ev.startEpoch, {
        info: `on ${e.worker}${ev.startEpoch > 0 ? `, resumed after epoch ${ev.startEpoch}` : ''}`,
      });
    } else if (ev?.kind === 'step') {
      bar.update({
        info: `step ${ev.step}/${ev.steps} loss ${ev.loss.toFixed(3)} top1 ${pct(ev.top1)} on ${e.worker}`,
      });
    } else if (ev?.kind === 'epoch_end') {
      const val = ev.val ? ` val top1 ${pct(ev.val.top1)}` : '';
      bar.update(ev.epoch + 1, { info: `top1 ${pct(ev.train.top1)}${val} on ${e.worker}` });
    }
  }

  log(line: string): void {
    if (this.multi) this.multi.log(`${line}\n`);
    else process.stdout.write(`${line}\n`);
  }

  stop(): void {
    this.multi?.stop();
    this.multi = null;
    this.epochBar = null;
    this.stepBar = null;
    this.trialBars.clear();
    this.countsBar = null;
  }
}

export function createReporter(json: boolean): Reporter {
  return json || !process.stdout.isTTY ? new JsonLinesReporter() : new TerminalReporter();
}
