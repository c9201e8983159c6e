import type { z } from 'zod';
import { ConfigError, type ConfigIssue, locatedMessage } from './errors.js';
import type { SourceMap } from './sourceMap.js';
import { formatKeyPath, getAt } from './tree.js';

function describeValue(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * Checks a resolved profile against a zod schema. Returns the parsed value; otherwise throws one
 * ConfigError listing every problem as `file:line:col: key.path: what was expected (got ...)`.
 * A missing key is reported where its parent mapping was written.
 */
export function validateConfig<S extends z.ZodType>(
  tree: unknown,
  schema: S,
  sources?: SourceMap,
): z.output<S> {
  const result = schema.safeParse(tree);
  if (result.success) return result.data;
  const issues: ConfigIssue[] = [];
  const add = (path: readonly PropertyKey[], message: string) => {
    const keyPath = formatKeyPath(path);
    const found = sources?.locate(path);
    issues.push({ keyPath, message, location: found?.location });
  };
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) add([...issue.path, key], 'unknown key');
      continue;
    }
    const value = getAt(tree, issue.path as (string | number)[]);
    const parent = getAt(tree, issue.path.slice(0, -1) as (string | number)[]);
    const missing = value === undefined && issue.path.length > 0 && parent !== undefined;
    if (missing) {
      const expected = issue.code === 'invalid_type' ? ` (expected ${issue.expected})` : `: ${issue.message}`;
      add(issue.path, `missing required key${expected}`);
      continue;
    }
    const got =
      value !== undefined && (typeof value !== 'object' || value === null)
        ? ` (got ${describeValue(value)})`
        : '';
    add(issue.path, `${issue.message}${got}`);
  }
  const lines = issues.map((issue) =>
    locatedMessage(issue.location, issue.keyPath || '(root)', issue.message),
  );
  const first = issues[0]!;
  const header = issues.length === 1 ? 'invalid config' : `invalid config (${issues.length} problems)`;
  throw new ConfigError(`${header}:\n  ${lines.join('\n  ')}`, {
    location: first.location,
    keyPath: first.keyPath,
    issues,
  });
}
