/** An error the user can fix (bad algorithm name, config, files): the CLI prints it and exits 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
