// `auto` between wasm and a CPU-only tensorflow build, by measurement: which one is faster depends
// on the machine (cores, SIMD width, memory) and on the network (TensorFlow's eager ops cost ~15-30
// us each through tfjs-node and its depthwise and max-pool gradients are slow on small tensors;
// XNNPACK is quick on small shapes). A probe of a few large ops ranks them wrongly (it made
// tensorflow 1.2-2x faster where the whole DARTS step ran 1.1-1.5x slower on it), so the caller
// hands in the real work: one forward + backward of its network. It is timed on both backends once
// per machine, TensorFlow build and workload, and the result kept in the cache folder.
import { mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { cacheRoot } from '../scripts/setup-tensorflow.mjs';
import { writeFileAtomic } from './safetensors.js';

/** The work `auto` times on each backend. */
export interface Workload {
  /** Identifies the work in the cache (sizes, batch): same key, same timing. */
  key: string;
  /** What is timed, for `reason` (e.g. "one forward + backward of the search network"). */
  label: string;
  /** Called with each backend active: builds the work there and returns one step and a cleanup. */
  prepare(): { step(): void; dispose(): void };
}

export interface BackendTiming {
  /** The faster of two timed steps after a warm-up, in ms, on each backend. */
  wasm_ms: number;
  tensorflow_ms: number;
  label: string;
  measured_at: string;
}

function cacheFile(): string {
  return path.join(cacheRoot(), 'auto-backend.json');
}

/** What makes a measurement reusable: the machine, the TensorFlow build (with its thread settings)
 * and the work. */
function cacheKey(build: string, w: Workload): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
  return `${cpu} x${os.availableParallelism()} | ${build} | ${w.key}`;
}

function readCache(): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(readFileSync(cacheFile(), 'utf8'));
    return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** A cached entry is used only when whole (a damaged cache means measuring again). */
function isTiming(v: unknown): v is BackendTiming {
  const t = v as BackendTiming | null;
  return (
    t != null &&
    Number.isFinite(t.wasm_ms) &&
    Number.isFinite(t.tensorflow_ms) &&
    typeof t.label === 'string' &&
    typeof t.measured_at === 'string'
  );
}

async function writeCache(entries: Record<string, unknown>): Promise<void> {
  try {
    mkdirSync(path.dirname(cacheFile()), { recursive: true });
    await writeFileAtomic(cacheFile(), `${JSON.stringify(entries, null, 2)}\n`);
  } catch {
    // A read-only cache only costs a new measurement next time.
  }
}

async function timeOn(backend: string, w: Workload): Promise<number> {
  if (!(await tf.setBackend(backend))) throw new Error(`backend '${backend}' is not available`);
  const work = w.prepare();
  try {
    work.step(); // warm-up: kernel set-up, first-use paths
    const times: number[] = [];
    for (let i = 0; i < 2; i++) {
      const t = performance.now();
      work.step();
      times.push(performance.now() - t);
    }
    return Math.min(...times);
  } finally {
    work.dispose();
  }
}

/**
 * Times the work on wasm and tensorflow (both must be registered and initialised), or returns the
 * cached timing for this machine, build and work. Leaves the active backend as it found it.
 */
export async function measureBackends(
  build: string,
  w: Workload,
): Promise<{ timing: BackendTiming; cached: boolean }> {
  const key = cacheKey(build, w);
  const hit = readCache()[key];
  if (isTiming(hit)) return { timing: hit, cached: true };
  const before = tf.getBackend();
  try {
    const timing: BackendTiming = {
      wasm_ms: Math.round(await timeOn('wasm', w)),
      tensorflow_ms: Math.round(await timeOn('tensorflow', w)),
      label: w.label,
      measured_at: new Date().toISOString(),
    };
    await writeCache({ ...readCache(), [key]: timing });
    return { timing, cached: false };
  } finally {
    if (before) await tf.setBackend(before);
  }
}
