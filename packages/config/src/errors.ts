import { formatLocation, type SourceLocation } from './sourceMap.js';

/** One problem found in a profile: which key, what is wrong, where it was written. */
export interface ConfigIssue {
  keyPath: string;
  message: string;
  location: SourceLocation | undefined;
}

/**
 * An error the user can cause: a malformed file, an unknown key, a value of the wrong type. The
 * CLI prints the message and exits with `exitCode`. `file`/`line`/`keyPath` describe the first
 * problem; `issues` lists all of them when several were found at once (schema validation).
 */
export class ConfigError extends Error {
  readonly exitCode = 2;
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly col: number | undefined;
  readonly keyPath: string | undefined;
  readonly issues: readonly ConfigIssue[];

  constructor(
    message: string,
    options: {
      location?: SourceLocation | undefined;
      keyPath?: string | undefined;
      issues?: readonly ConfigIssue[];
      cause?: unknown;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConfigError';
    this.file = options.location?.override === undefined ? options.location?.file : undefined;
    this.line = options.location?.line;
    this.col = options.location?.col;
    this.keyPath = options.keyPath;
    this.issues = options.issues ?? [];
  }
}

/** `file:line:col: key.path: message`, the one shape every located error message takes. */
export function locatedMessage(
  location: SourceLocation | undefined,
  keyPath: string | undefined,
  message: string,
) {
  const where = location ? `${formatLocation(location)}: ` : '';
  const key = keyPath !== undefined && keyPath !== '' ? `${keyPath}: ` : '';
  return `${where}${key}${message}`;
}
