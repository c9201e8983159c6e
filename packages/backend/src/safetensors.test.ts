import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, loadSafetensors, saveSafetensors } from './safetensors.js';

describe('safetensors', () => {
  it('round-trips tensors and metadata through a file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'st-'));
    const path = join(dir, 'w.safetensors');
    const tensors = new Map([
      ['b.weight', { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6.5]) }],
      ['a.step', { shape: [1], data: Int32Array.from([7]) }],
    ]);
    await saveSafetensors(path, tensors, { epoch: '3' });
    const back = await loadSafetensors(path);
    expect(back.metadata).toEqual({ epoch: '3' });
    expect([...back.tensors.keys()]).toEqual(['a.step', 'b.weight']);
    expect(Array.from(back.tensors.get('b.weight')!.data)).toEqual([1, 2, 3, 4, 5, 6.5]);
    expect(back.tensors.get('a.step')!.data).toBeInstanceOf(Int32Array);
    // Header is 8-byte aligned like the reference writer's.
    const raw = readFileSync(path);
    expect(Number(raw.readBigUInt64LE(0)) % 8).toBe(0);
  });

  it('names the file when it is damaged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'st-'));
    const path = join(dir, 'bad.safetensors');
    const good = encodeSafetensors(new Map([['w', { shape: [4], data: new Float32Array(4) }]]));
    writeFileSync(path, good.subarray(0, good.length - 5));
    await expect(loadSafetensors(path)).rejects.toThrow(`${path}: tensor 'w' byte range`);
    expect(() => decodeSafetensors(Buffer.from('xx'), 'f.st')).toThrow('f.st: file is 2 bytes');
  });
});
