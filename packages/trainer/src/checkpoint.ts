// One checkpoint file per training phase: weights, optimiser states, schedule position, metrics
// and random state, written to a temporary file and renamed so a crash never leaves half of one.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadSafetensors, type NamedArray, saveSafetensors } from '@tsnas/backend';
import * as tf from '@tensorflow/tfjs-core';

export class CheckpointError extends Error {
  readonly exitCode = 2;
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(
      `damaged checkpoint ${file}: ${message}. Delete it (or run with --no-resume) to start this phase again.`,
    );
    this.name = 'CheckpointError';
  }
}

export interface CheckpointData {
  /** JSON-serialisable state: epoch, metrics, optimiser scalars, random state, ... */
  state: Record<string, unknown>;
  tensors: Map<string, tf.Tensor>;
}

export class Checkpoint {
  constructor(
    readonly file: string,
    readonly freq: number,
  ) {}

  exists(): boolean {
    return existsSync(this.file);
  }

  async save(data: CheckpointData): Promise<void> {
    mkdirSync(dirname(this.file), { recursive: true });
    const arrays = new Map<string, NamedArray>();
    for (const [k, t] of data.tensors) {
      const values = t.dtype === 'int32' ? Int32Array.from(t.dataSync()) : Float32Array.from(t.dataSync());
      arrays.set(k, { shape: t.shape, data: values });
    }
    await saveSafetensors(this.file, arrays, { tsnas_state: JSON.stringify(data.state) });
  }

  /**
   * Loads the checkpoint, or returns null when there is none. A damaged file (truncated, bit
   * flips caught by the checksum, a state that is not a training state) is a CheckpointError naming
   * it; the file is left as it is.
   */
  async load(): Promise<CheckpointData | null> {
    if (!this.exists()) return null;
    let decoded: Awaited<ReturnType<typeof loadSafetensors>>;
    try {
      decoded = await loadSafetensors(this.file);
    } catch (e) {
      throw new CheckpointError(this.file, (e as Error).message.replace(`${this.file}: `, ''));
    }
    const raw = decoded.metadata.tsnas_state;
    if (typeof raw !== 'string') throw new CheckpointError(this.file, 'it has no tsnas_state metadata');
    let state: unknown;
    try {
      state = JSON.parse(raw);
    } catch (e) {
      throw new CheckpointError(this.file, `its state is not valid JSON (${(e as Error).message})`);
    }
    if (typeof state !== 'object' || state === null || Array.isArray(state)) {
      throw new CheckpointError(this.file, `its state is not a JSON object (got ${raw.slice(0, 40)})`);
    }
    const epoch = (state as Record<string, unknown>).epoch;
    if (!Number.isSafeInteger(epoch) || (epoch as number) < 0) {
      throw new CheckpointError(this.file, `its state has no epoch number (got ${JSON.stringify(epoch)})`);
    }
    const tensors = new Map<string, tf.Tensor>();
    for (const [k, a] of decoded.tensors)
      tensors.set(k, tf.tensor(a.data, a.shape, a.data instanceof Int32Array ? 'int32' : 'float32'));
    return { state: state as Record<string, unknown>, tensors };
  }
}

/**
 * Checks that the optimiser state in a checkpoint (`optimizer.<slot>.<variable>`) has the shape of
 * the variable it belongs to, so a checkpoint of another network is refused before training starts.
 */
export function checkOptimizerShapes(
  file: string,
  tensors: Map<string, tf.Tensor>,
  variables: Map<string, tf.Variable>,
): void {
  for (const [key, t] of tensors) {
    if (!key.startsWith('optimizer.')) continue;
    const rest = key.slice('optimizer.'.length);
    const name = rest.slice(rest.indexOf('.') + 1);
    const v = variables.get(name);
    if (v && (v.shape.length !== t.shape.length || v.shape.some((d, i) => d !== t.shape[i]))) {
      throw new CheckpointError(
        file,
        `tensor '${key}' has shape [${t.shape}], the model's '${name}' is [${v.shape}]`,
      );
    }
  }
}

/** Splits a flat `prefix.name` tensor map into the entries under one prefix (prefix removed). */
export function takePrefix(tensors: Map<string, tf.Tensor>, prefix: string): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [k, t] of tensors) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), t);
  return out;
}

export function withPrefix(
  tensors: Map<string, tf.Tensor>,
  prefix: string,
  into: Map<string, tf.Tensor>,
): void {
  for (const [k, t] of tensors) into.set(prefix + k, t);
}
