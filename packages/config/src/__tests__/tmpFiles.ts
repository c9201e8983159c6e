import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** Strips the common indentation of a template literal so YAML can be written inline in tests. */
export function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  const text = String.raw({ raw: strings }, ...values).replace(/^\n/, '');
  const indents = text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => /^ */.exec(line)![0].length);
  const cut = Math.min(...indents);
  return text
    .split('\n')
    .map((line) => line.slice(cut))
    .join('\n');
}

const made: string[] = [];

/**
 * Writes `files` (relative path -> content) under a fresh temp folder and returns the folder.
 * A `.git` folder marks it as a project root so that config discovery never walks above it.
 */
export function writeFiles(files: Record<string, string>, options: { projectRoot?: boolean } = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'tsnas-config-'));
  made.push(root);
  if (options.projectRoot ?? true) mkdirSync(join(root, '.git'));
  for (const [name, content] of Object.entries(files)) {
    const file = join(root, name);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
  return root;
}

export function removeWrittenFiles(): void {
  for (const root of made.splice(0)) rmSync(root, { recursive: true, force: true });
}
