/**
 * An error the user can cause (a bad desc file, a bad genotype string, an impossible config):
 * the CLI prints the message and exits with `exitCode`.
 */
export class DescError extends Error {
  readonly exitCode = 2;
  /** The file the problem is in, when there is one. */
  readonly file: string | undefined;
  /** Where inside the document, e.g. `cells[3].nodes[1].edges[0].input_ids`. */
  readonly path: string | undefined;

  constructor(message: string, options: { file?: string; path?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DescError';
    this.file = options.file;
    this.path = options.path;
  }
}

/** Formats `['cells', 3, 'nodes', 1]` as `cells[3].nodes[1]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(document root)' : out;
}
