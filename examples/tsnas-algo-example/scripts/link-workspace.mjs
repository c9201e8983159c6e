#!/usr/bin/env node
// Inside the tsnas repository the @tsnas packages are not on a registry yet: this links the built
// workspace packages (and the tfjs-core and @types/node they use) into <dir>/node_modules, which
// stands in for `npm install` of the example's peer and dev dependencies.
//
//   node scripts/link-workspace.mjs [dir]      (dir defaults to this example's folder)
//
// Links point at the real folders, so Node loads one copy of each package: the plug-in, the
// runner and the `nas` binary share tfjs's engine and the DI tokens.
import { existsSync, mkdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const exampleDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const workspace = resolve(exampleDir, '..', '..');
const target = resolve(process.argv[2] ?? exampleDir);

const links = {
  '@tsnas/descs': join(workspace, 'packages', 'descs'),
  '@tsnas/backend': join(workspace, 'packages', 'backend'),
  '@tsnas/ops': join(workspace, 'packages', 'ops'),
  '@tsnas/runner': join(workspace, 'packages', 'runner'),
  '@tensorflow/tfjs-core': join(workspace, 'packages', 'ops', 'node_modules', '@tensorflow', 'tfjs-core'),
  '@types/node': join(workspace, 'node_modules', '@types', 'node'),
};

for (const [name, from] of Object.entries(links)) {
  if (!existsSync(from)) {
    console.error(`link-workspace: ${from} is missing; run pnpm install (and build) in ${workspace} first`);
    process.exit(2);
  }
  const to = join(target, 'node_modules', ...name.split('/'));
  mkdirSync(dirname(to), { recursive: true });
  rmSync(to, { recursive: true, force: true });
  symlinkSync(realpathSync(from), to, 'dir');
}
console.log(`linked ${Object.keys(links).join(', ')} into ${join(target, 'node_modules')}`);
