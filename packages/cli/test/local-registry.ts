// A throwaway npm registry for tests: Verdaccio (a devDependency of @tsnas/cli) on a free loopback
// port, with its storage, config and user list in a temporary folder. The names given in `local`
// are served and published only there (never fetched from npmjs, so a test cannot pass on a
// package someone else published under that name); every other package is proxied to npmjs.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';

export const UPLINK = 'https://registry.npmjs.org/';

export interface LocalRegistry {
  /** `http://127.0.0.1:PORT/` */
  url: string;
  /** The `//127.0.0.1:PORT/:_authToken=...` line for an .npmrc, after `addUser`. */
  authLine(token: string): string;
  /** Creates a user the way `npm adduser` does and returns its token. */
  addUser(name: string, password: string): Promise<string>;
  /** Verdaccio's output so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function verdaccioBin(): string {
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve('verdaccio/package.json');
  const bin = require(pkgPath).bin;
  return join(dirname(pkgPath), typeof bin === 'string' ? bin : bin.verdaccio);
}

function configYaml(dir: string, local: string[]): string {
  const own = local
    .map((name) => `  '${name}':\n    access: $all\n    publish: $all\n    unpublish: $all\n`)
    .join('');
  return `storage: ${JSON.stringify(join(dir, 'storage'))}
auth:
  htpasswd:
    file: ${JSON.stringify(join(dir, 'htpasswd'))}
uplinks:
  npmjs:
    url: ${UPLINK}
    timeout: 60s
    max_fails: 5
packages:
${own}  '**':
    access: $all
    publish: $authenticated
    proxy: npmjs
log: { type: stdout, format: pretty, level: warn }
`;
}

async function waitUntilUp(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`verdaccio exited with code ${child.exitCode} before answering:\n${output()}`);
    }
    try {
      const res = await fetch(`${url}-/ping`, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`verdaccio did not answer ${url}-/ping within 30 s:\n${output()}`);
}

/** Starts Verdaccio with its config, storage and users under `dir`; `local` names are never proxied. */
export async function startLocalRegistry(dir: string, local: string[]): Promise<LocalRegistry> {
  const configFile = join(dir, 'verdaccio.yaml');
  writeFileSync(configFile, configYaml(dir, local));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const child = spawn(
    process.execPath,
    [verdaccioBin(), '--config', configFile, '--listen', `127.0.0.1:${port}`],
    {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  // Never leave a registry behind, even when the test process ends abruptly.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };

  try {
    await waitUntilUp(url, child, () => output);
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    url,
    authLine: (token) => `//127.0.0.1:${port}/:_authToken=${token}`,
    async addUser(name, password) {
      const res = await fetch(`${url}-/user/org.couchdb.user:${encodeURIComponent(name)}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name, password }),
      });
      const body = (await res.json()) as { token?: string; error?: string };
      if (!res.ok || !body.token) {
        throw new Error(`verdaccio refused to create user ${name}: ${res.status} ${JSON.stringify(body)}`);
      }
      return body.token;
    },
    log: () => output,
    stop,
  };
}
