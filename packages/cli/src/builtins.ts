import darts from '@tsnas/algo-darts';
import diversity from '@tsnas/algo-diversity';
import random from '@tsnas/algo-random';
import { type AlgoSource, builtinSource } from '@tsnas/runner';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);

function packageJsonUrl(name: string): URL {
  return pathToFileURL(require.resolve(`${name}/package.json`));
}

/** The algorithms that ship with the CLI. */
export function builtinAlgos(): AlgoSource[] {
  return [
    builtinSource(darts, packageJsonUrl('@tsnas/algo-darts')),
    builtinSource(random, packageJsonUrl('@tsnas/algo-random')),
    builtinSource(diversity, packageJsonUrl('@tsnas/algo-diversity')),
  ];
}
