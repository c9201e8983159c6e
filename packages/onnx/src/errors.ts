/** Bad input to the exporter (a weight missing or mis-shaped, an op without an exporter): exit code 2. */
export class OnnxExportError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'OnnxExportError';
  }
}
