/** A report that cannot be made from what the user named (not an experiment folder, bad --out): exit 2. */
export class ReportError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'ReportError';
  }
}
