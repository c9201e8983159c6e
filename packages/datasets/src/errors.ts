/** What went wrong, for programs; the message says it for people. */
export type DatasetErrorCode = 'E_FORMAT' | 'E_NOT_FOUND' | 'E_DUPLICATE' | 'E_UNKNOWN' | 'E_CONFIG' | 'E_IO';

/**
 * An error a user can cause (a bad file, a missing dataset, a bad config value). The CLI maps
 * `exitCode` to the process exit status.
 */
export class DatasetError extends Error {
  readonly exitCode = 2;

  constructor(
    readonly code: DatasetErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DatasetError';
  }
}
