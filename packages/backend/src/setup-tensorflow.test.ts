// The `tsnas-backend setup-tensorflow` command: what a user sees when the TensorFlow backend cannot
// be built, and what it reports when it was. (The build itself runs in the workspace's
// postinstall, so the suite's tensorflow parity tests exercise its result.)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tensorflowAvailability } from './testing.js';

const bin = fileURLToPath(new URL('../bin/tsnas-backend.mjs', import.meta.url));
const scratch = mkdtempSync(path.join(tmpdir(), 'tsnas-setup-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    // An empty cache: nothing is reused, and nothing is linked unless a build succeeds.
    env: { ...process.env, TSNAS_CACHE_DIR: path.join(scratch, 'cache'), ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('tsnas-backend setup-tensorflow', () => {
  it('names the missing tool and exits 2', () => {
    const r = cli(['setup-tensorflow'], { TSNAS_PYTHON: path.join(scratch, 'no-python') });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /^tsnas-backend: cannot build the tensorflow backend: missing pip \(.*no-python -m pip --version failed\)/,
    );
  });

  it('with --if-possible (the workspace postinstall) says why in one line and exits 0', () => {
    const r = cli(['setup-tensorflow', '--if-possible'], { TSNAS_PYTHON: path.join(scratch, 'no-python') });
    expect(r.status).toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^tsnas: tensorflow backend not set up \(cannot build .*missing pip.*\); tsnas will use wasm\. Retry with: /,
    );
  });

  it('TSNAS_TENSORFLOW=0 skips the build in the postinstall', () => {
    const r = cli(['setup-tensorflow', '--if-possible'], { TSNAS_TENSORFLOW: '0' });
    expect(r.status).toBe(0);
    expect(r.stderr.trim()).toBe('tsnas: TSNAS_TENSORFLOW=0: not building the tensorflow backend');
  });

  it('rejects a wheel file that does not exist, naming it', () => {
    const wheel = path.join(scratch, 'missing.whl');
    const r = cli(['setup-tensorflow', '--wheel', wheel]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(`tsnas-backend: TSNAS_TENSORFLOW_WHEEL: no such file ${wheel}`);
  });

  it('rejects a wheel without libtensorflow and leaves no partial build behind', () => {
    const wheel = path.join(scratch, 'not_tensorflow-1.0-py3-none-any.whl');
    // A valid zip with one unrelated member (Python writes it: no zip library needed here).
    const py = spawnSync('python3', [
      '-c',
      `import zipfile; zipfile.ZipFile(${JSON.stringify(wheel)}, 'w').writestr('x/__init__.py', '')`,
    ]);
    expect(py.status).toBe(0);
    const r = cli(['setup-tensorflow', '--wheel', wheel]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(
      `${wheel} holds no tensorflow/libtensorflow_cc.so.2 and libtensorflow_framework.so.2: is it a TensorFlow wheel?`,
    );
    const left = spawnSync('find', [path.join(scratch, 'cache'), '-mindepth', '2', '-maxdepth', '2'])
      .stdout.toString()
      .trim();
    expect(left).toBe('');
  });

  it('rejects unknown commands and options with the usage', () => {
    const r = cli(['setup-tensorflw']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown command 'setup-tensorflw'");
    expect(r.stderr).toContain('usage: tsnas-backend setup-tensorflow');
    expect(cli(['setup-tensorflow', '--gpus']).stderr).toContain("Unknown option '--gpus'");
  });
});

const tensorflow = await tensorflowAvailability();

describe.runIf(tensorflow.available)('tsnas-backend tensorflow-info (tensorflow built)', () => {
  it('reports the linked build, its TensorFlow version and devices as JSON', () => {
    const r = spawnSync(process.execPath, [bin, 'tensorflow-info'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.tensorflow).toMatch(/^\d+\.\d+\.\d+/);
    expect(info.devices.some((d: { type: string }) => d.type === 'CPU')).toBe(true);
    expect(info.buildDir).toMatch(/tensorflow[/\\](cpu|gpu)-/);
  });
});
