/** Bad input to a renderer (empty series, ragged matrix, dangling edge input): the caller's data is wrong. */
export class VizInputError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'VizInputError';
  }
}
