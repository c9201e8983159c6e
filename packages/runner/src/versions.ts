import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function versionOf(name: string): string {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Versions recorded in summary.json, so a result can be traced to the code that produced it. */
export function versions(): Record<string, string> {
  return {
    node: process.versions.node,
    '@tsnas/runner': versionOf('@tsnas/runner'),
    '@tensorflow/tfjs-core': versionOf('@tensorflow/tfjs-core'),
  };
}
