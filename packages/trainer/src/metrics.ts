// Per-epoch metrics with Archai's meanings (accuracies as fractions in 0..1, averages weighted by
// batch size), written as JSON lines so a run can be followed with `tail -f` and parsed by programs.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Averages {
  top1: number;
  top5: number;
  loss: number;
  /** Mean seconds per step. */
  step_time: number;
  /** Seconds for the whole pass. */
  duration: number;
  samples: number;
}

export class AverageMeter {
  private sums = { top1: 0, top5: 0, loss: 0 };
  private n = 0;
  private steps = 0;
  private stepSeconds = 0;
  private readonly start = performance.now();

  add(batch: number, top1: number, top5: number, loss: number, stepSeconds = 0): void {
    this.sums.top1 += top1 * batch;
    this.sums.top5 += top5 * batch;
    this.sums.loss += loss * batch;
    this.n += batch;
    this.steps += 1;
    this.stepSeconds += stepSeconds;
  }

  get count(): number {
    return this.n;
  }

  averages(): Averages {
    const n = Math.max(this.n, 1);
    return {
      top1: this.sums.top1 / n,
      top5: this.sums.top5 / n,
      loss: this.sums.loss / n,
      step_time: this.steps ? this.stepSeconds / this.steps : 0,
      duration: (performance.now() - this.start) / 1000,
      samples: this.n,
    };
  }
}

export interface EpochRecord {
  title: string;
  epoch: number;
  lr: number;
  train: Averages;
  val?: Averages;
}

/** A step that `logger_freq` asks to log: the batch's loss and top1, for per-step curves. */
export interface StepRecord {
  title: string;
  epoch: number;
  /** 1-based step within the epoch. */
  step: number;
  steps: number;
  lr: number;
  loss: number;
  top1: number;
}

export interface RunSummary {
  title: string;
  epochs: EpochRecord[];
  best_train: EpochRecord | null;
  best_val: EpochRecord | null;
  test: Averages | null;
  seconds: number;
}

export class Metrics {
  epochs: EpochRecord[] = [];
  test: Averages | null = null;
  seconds = 0;

  constructor(
    readonly title: string,
    readonly file: string | null = null,
  ) {
    if (file) mkdirSync(dirname(file), { recursive: true });
  }

  private write(record: object): void {
    if (this.file) appendFileSync(this.file, `${JSON.stringify(record)}\n`);
  }

  addEpoch(rec: EpochRecord): void {
    this.epochs.push(rec);
    this.write({ type: 'epoch', ...rec });
  }

  /** Logged steps go to the file only (curves read them back); the checkpoint does not carry them. */
  addStep(rec: StepRecord): void {
    this.write({ type: 'step', ...rec });
  }

  /**
   * Replaces the history (on resume) and rewrites the JSON-lines file to match it: epoch lines from
   * `epochs`, and the step lines already in the file for those epochs (later ones were logged after
   * the checkpoint and are trained again).
   */
  replaceEpochs(epochs: EpochRecord[], seconds: number): void {
    this.epochs = [...epochs];
    this.seconds = seconds;
    if (!this.file) return;
    const kept = new Map<number, string[]>();
    if (existsSync(this.file)) {
      for (const line of readFileSync(this.file, 'utf8').split('\n')) {
        let rec: { type?: string; epoch?: number } | null = null;
        try {
          rec = JSON.parse(line);
        } catch {
          continue; // a line cut short by the crash
        }
        if (rec?.type !== 'step' || typeof rec.epoch !== 'number' || rec.epoch >= epochs.length) continue;
        kept.set(rec.epoch, [...(kept.get(rec.epoch) ?? []), line]);
      }
    }
    const lines = epochs.flatMap((e) => [
      ...(kept.get(e.epoch) ?? []),
      JSON.stringify({ type: 'epoch', ...e }),
    ]);
    writeFileSync(this.file, lines.map((l) => `${l}\n`).join(''));
  }

  setTest(avg: Averages): void {
    this.test = avg;
    this.write({ type: 'test', title: this.title, test: avg });
  }

  bestTrain(): EpochRecord | null {
    return this.epochs.reduce<EpochRecord | null>(
      (b, e) => (!b || e.train.top1 > b.train.top1 ? e : b),
      null,
    );
  }

  bestVal(): EpochRecord | null {
    return this.epochs.reduce<EpochRecord | null>(
      (b, e) => (e.val && (!b || e.val.top1 > (b.val?.top1 ?? -1)) ? e : b),
      null,
    );
  }

  summary(): RunSummary {
    return {
      title: this.title,
      epochs: this.epochs,
      best_train: this.bestTrain(),
      best_val: this.bestVal(),
      test: this.test,
      seconds: this.seconds,
    };
  }

  toJSON(): object {
    return { epochs: this.epochs, test: this.test, seconds: this.seconds };
  }

  static fromJSON(title: string, file: string | null, data: any): Metrics {
    const m = new Metrics(title, file);
    m.epochs = data?.epochs ?? [];
    m.test = data?.test ?? null;
    m.seconds = data?.seconds ?? 0;
    return m;
  }
}
