// The training loop of Archai §8.1 with its hooks, per-epoch cosine schedule, gradient clipping,
// `batch_chunks` accumulation, auxiliary loss, drop-path ramp, metrics and resumable checkpoints.
import { globalRng, SeededRng, setGlobalRng } from '@tsnas/backend';
import type * as tf from '@tensorflow/tfjs-core';
import {
  type Checkpoint,
  CheckpointError,
  checkOptimizerShapes,
  takePrefix,
  withPrefix,
} from './checkpoint.js';
import { type Averages, AverageMeter, Metrics } from './metrics.js';
import { clipByGlobalNorm, createOptimizer, type Optimizer, type OptimizerConf } from './optimizers.js';
import { evalSums, modelLoss } from './gradients.js';
import { type GradientEngine, InProcessGradientEngine } from './gradient-engine.js';
import { type LrScheduleConf, lrAt } from './schedules.js';
import type { Batch, BatchSource, DataLoaders, TrainableModel } from './trainable.js';

export interface TrainerConf {
  title: string;
  epochs: number;
  batch_chunks?: number;
  grad_clip?: number;
  drop_path_prob?: number;
  aux_weight?: number;
  label_smoothing?: number;
  l1_alphas?: number;
  optimizer: OptimizerConf;
  lr_schedule?: LrScheduleConf | null;
  validation?: { freq: number } | null;
  /** Log every this many steps (0: epoch lines only); progress bars still see every step. */
  logger_freq?: number;
}

export type TrainerEvent =
  | { kind: 'fit_start'; title: string; epochs: number; startEpoch: number; steps: number }
  | {
      kind: 'step';
      title: string;
      epoch: number;
      step: number;
      steps: number;
      loss: number;
      top1: number;
      logged: boolean;
    }
  | {
      kind: 'epoch_end';
      title: string;
      epoch: number;
      epochs: number;
      lr: number;
      train: Averages;
      val?: Averages;
    }
  | { kind: 'checkpoint'; title: string; epoch: number; file: string }
  | { kind: 'test'; title: string; test: Averages }
  | { kind: 'fit_end'; title: string; seconds: number };

export interface TrainerOptions {
  checkpoint?: Checkpoint | null;
  /** Where metrics.jsonl goes; null keeps metrics in memory only. */
  metricsFile?: string | null;
  onEvent?: (e: TrainerEvent) => void;
  /**
   * Computes the training gradients (default: in this thread). The trainer owns it and disposes it
   * in dispose(); a DataParallelEngine spreads each batch's chunks over worker threads.
   */
  gradients?: GradientEngine;
}

/**
 * Evaluates a model on a batch source in eval mode (no gradients, BN running statistics); with an
 * `engine` that can, each batch's rows are split over its threads.
 */
export function evaluate(
  model: TrainableModel,
  source: BatchSource,
  lossSmoothing = 0,
  engine?: GradientEngine,
): Averages {
  const meter = new AverageMeter();
  for (const { x, y } of source) {
    const t0 = performance.now();
    const n = x.shape[0];
    const sums = engine?.evaluate
      ? engine.evaluate(model, x, y, lossSmoothing)
      : evalSums(model, x, y, lossSmoothing);
    meter.add(n, sums.top1Sum / n, sums.top5Sum / n, sums.lossSum / n, (performance.now() - t0) / 1000);
    x.dispose();
    y.dispose();
  }
  return meter.averages();
}

export class Trainer {
  readonly metrics: Metrics;
  protected optimizer: Optimizer;
  protected epoch = 0;
  protected lr: number;
  protected data: DataLoaders | null = null;
  protected readonly checkpoint: Checkpoint | null;
  protected readonly onEvent: (e: TrainerEvent) => void;
  protected readonly gradients: GradientEngine;

  constructor(
    readonly conf: TrainerConf,
    readonly model: TrainableModel,
    opts: TrainerOptions = {},
  ) {
    this.checkpoint = opts.checkpoint ?? null;
    this.onEvent = opts.onEvent ?? (() => {});
    this.gradients = opts.gradients ?? new InProcessGradientEngine();
    this.metrics = new Metrics(conf.title, opts.metricsFile ?? null);
    this.optimizer = createOptimizer(conf.optimizer, `${conf.title}.optimizer`);
    this.lr = conf.optimizer.lr;
  }

  /** The variables the weight optimiser updates. Alphas are excluded (original DARTS behaviour). */
  protected trainedVariables(): Map<string, tf.Variable> {
    return this.model.weights();
  }

  async fit(data: DataLoaders): Promise<Metrics> {
    if (!data.train) throw new Error(`${this.conf.title}: fit needs a train loader`);
    this.data = data;
    const started = performance.now();
    this.preFit(data);
    let startEpoch = 0;
    const restored = this.checkpoint ? await this.checkpoint.load() : null;
    if (restored) {
      try {
        checkOptimizerShapes(this.checkpoint!.file, restored.tensors, this.trainedVariables());
        startEpoch = this.restoreCheckpoint(restored.state, restored.tensors) + 1;
      } catch (e) {
        // A checkpoint that decodes but does not fit this run (other network, other state) is the
        // file's fault: name it, and stop before anything trains or overwrites it.
        if (e instanceof CheckpointError) throw e;
        throw new CheckpointError(this.checkpoint!.file, (e as Error).message);
      } finally {
        for (const t of restored.tensors.values()) t.dispose();
      }
    }
    const secondsBefore = this.metrics.seconds;
    this.onEvent({
      kind: 'fit_start',
      title: this.conf.title,
      epochs: this.conf.epochs,
      startEpoch,
      steps: data.train.length,
    });
    for (let epoch = startEpoch; epoch < this.conf.epochs; epoch++) {
      this.epoch = epoch;
      this.setEpoch(epoch);
      this.preEpoch();
      const train = this.trainEpoch(data.train);
      const val = this.validate(epoch);
      const rec = { title: this.conf.title, epoch, lr: this.lr, train, ...(val ? { val } : {}) };
      this.metrics.seconds = secondsBefore + (performance.now() - started) / 1000;
      this.metrics.addEpoch(rec);
      this.onEvent({ kind: 'epoch_end', epochs: this.conf.epochs, ...rec });
      this.postEpoch();
      await this.maybeCheckpoint(epoch);
      // Let timers (progress bars) and signals run between epochs.
      await new Promise((r) => setImmediate(r));
    }
    this.postFit();
    if (data.test) {
      const test = evaluate(this.model, data.test, 0, this.gradients);
      this.metrics.setTest(test);
      this.onEvent({ kind: 'test', title: this.conf.title, test });
    }
    this.metrics.seconds = secondsBefore + (performance.now() - started) / 1000;
    this.onEvent({ kind: 'fit_end', title: this.conf.title, seconds: this.metrics.seconds });
    return this.metrics;
  }

  protected setEpoch(epoch: number): void {
    this.lr = lrAt(this.conf.lr_schedule, this.conf.optimizer.lr, epoch, this.conf.epochs);
    this.data?.train?.setEpoch(epoch);
    this.data?.val?.setEpoch(epoch);
    const p = this.conf.drop_path_prob ?? 0;
    this.model.setDropPathProb((p * epoch) / this.conf.epochs);
    this.gradients.setDropPathProb((p * epoch) / this.conf.epochs);
  }

  protected trainEpoch(source: BatchSource): Averages {
    const meter = new AverageMeter();
    const steps = source.length;
    let step = 0;
    const freq = this.conf.logger_freq ?? 0;
    for (const batch of source) {
      const t0 = performance.now();
      this.preStep(batch);
      const { loss, top1, top5 } = this.weightStep(batch);
      meter.add(batch.x.shape[0], top1, top5, loss, (performance.now() - t0) / 1000);
      this.postStep(batch);
      batch.x.dispose();
      batch.y.dispose();
      step += 1;
      // Every step is reported (progress bars); `logged` marks the ones logger_freq asks to log.
      const logged = freq > 0 && (step % freq === 0 || step === steps);
      if (logged)
        this.metrics.addStep({
          title: this.conf.title,
          epoch: this.epoch,
          step,
          steps,
          lr: this.lr,
          loss,
          top1,
        });
      this.onEvent({
        kind: 'step',
        title: this.conf.title,
        epoch: this.epoch,
        step,
        steps,
        loss,
        top1,
        logged,
      });
    }
    return meter.averages();
  }

  /** The model loss on a batch: CE(logits) + aux_weight * CE(aux) when training with an aux head. */
  computeLoss(x: tf.Tensor4D, y: tf.Tensor1D, training: boolean): { loss: tf.Scalar; logits: tf.Tensor2D } {
    // The same function runs in data-parallel replicas, so every thread trains on the same loss.
    return modelLoss(this.model, x, y, training, this.conf);
  }

  /** Forward, backward over `batch_chunks` chunks, clip, and one optimiser step. */
  protected weightStep(batch: Batch): { loss: number; top1: number; top5: number } {
    const vars = this.trainedVariables();
    const {
      loss,
      top1,
      top5,
      grads: raw,
    } = this.gradients.compute(this.model, {
      x: batch.x,
      y: batch.y,
      vars,
      chunks: Math.max(1, this.conf.batch_chunks ?? 1),
      loss: (x, y) => this.computeLoss(x, y, true),
    });
    let grads = raw;
    const clip = this.conf.grad_clip ?? 0;
    if (clip > 0) grads = clipByGlobalNorm(grads, clip);
    this.optimizer.step(vars, grads, this.lr);
    for (const g of grads.values()) g.dispose();
    return { loss, top1, top5 };
  }

  protected validate(epoch: number): Averages | undefined {
    const val = this.data?.val;
    const freq = this.conf.validation?.freq ?? 0;
    if (!val || freq <= 0) return undefined;
    if (epoch % freq !== 0 && epoch !== this.conf.epochs - 1) return undefined;
    return evaluate(this.model, val, 0, this.gradients);
  }

  protected async maybeCheckpoint(epoch: number): Promise<void> {
    const ckpt = this.checkpoint;
    if (!ckpt || ckpt.freq <= 0) return;
    const done = epoch + 1;
    if (done % ckpt.freq !== 0 && done !== this.conf.epochs) return;
    const tensors = new Map<string, tf.Tensor>();
    const state = this.updateCheckpoint(tensors);
    await ckpt.save({ state, tensors });
    for (const t of tensors.values()) t.dispose();
    this.onEvent({ kind: 'checkpoint', title: this.conf.title, epoch, file: ckpt.file });
  }

  /** Fills `tensors` with everything to save and returns the JSON part. Subclasses add theirs. */
  protected updateCheckpoint(tensors: Map<string, tf.Tensor>): Record<string, unknown> {
    withPrefix(this.model.getState(), 'model.', tensors);
    const opt = this.optimizer.getState();
    withPrefix(opt.tensors, 'optimizer.', tensors);
    return {
      title: this.conf.title,
      epoch: this.epoch,
      optimizer: opt.scalars,
      metrics: this.metrics.toJSON(),
      rng: globalRng().getState(),
      ...(this.model.dropPathRng ? { drop_path_rng: this.model.dropPathRng.getState() } : {}),
    };
  }

  /** Restores from a checkpoint; returns the last completed epoch. */
  protected restoreCheckpoint(state: Record<string, any>, tensors: Map<string, tf.Tensor>): number {
    this.model.setState(takePrefix(tensors, 'model.'));
    this.optimizer.setState({ tensors: takePrefix(tensors, 'optimizer.'), scalars: state.optimizer ?? {} });
    const m = Metrics.fromJSON(this.conf.title, this.metrics.file, state.metrics);
    // Epochs logged after this checkpoint (before a crash) are dropped from metrics.jsonl.
    this.metrics.replaceEpochs(m.epochs, m.seconds);
    if (state.rng) setGlobalRng(SeededRng.fromState(state.rng));
    if (state.drop_path_rng && this.model.dropPathRng)
      this.model.dropPathRng = SeededRng.fromState(state.drop_path_rng);
    return Number(state.epoch);
  }

  // Hooks (Archai's names). The base trainer does nothing in them.
  protected preFit(_data: DataLoaders): void {}
  protected postFit(): void {}
  protected preEpoch(): void {}
  protected postEpoch(): void {}
  protected preStep(_batch: Batch): void {}
  protected postStep(_batch: Batch): void {}

  dispose(): void {
    this.optimizer.dispose();
    this.gradients.dispose();
  }
}
