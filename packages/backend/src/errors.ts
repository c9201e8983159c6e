/** An error the user can fix (bad option, missing optional package): the CLI exits with code 2. */
export class BackendError extends Error {
  readonly exitCode = 2;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BackendError';
  }
}

/** Thrown by assertNoLeak when a function leaves tensors behind. */
export class TensorLeakError extends Error {
  constructor(
    message: string,
    readonly leaked: number,
  ) {
    super(message);
    this.name = 'TensorLeakError';
  }
}
