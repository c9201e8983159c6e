import { DatasetError } from './errors.js';

// Small readers for config values, so each bad value is reported with its full key path.

type Conf = Record<string, unknown>;

function bad(path: string, expected: string, got: unknown): DatasetError {
  return new DatasetError(
    'E_CONFIG',
    `${path}: expected ${expected}, got ${JSON.stringify(got) ?? String(got)}.`,
  );
}

export function confInt(
  conf: Conf,
  key: string,
  path: string,
  fallback: number,
  min = Number.NEGATIVE_INFINITY,
): number {
  const v = conf[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw bad(`${path}.${key}`, min === Number.NEGATIVE_INFINITY ? 'an integer' : `an integer >= ${min}`, v);
  }
  return v;
}

export function confNumber(
  conf: Conf,
  key: string,
  path: string,
  fallback: number,
  min: number,
  maxExclusive: number,
): number {
  const v = conf[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !(v >= min && v < maxExclusive)) {
    throw bad(`${path}.${key}`, `a number in [${min}, ${maxExclusive})`, v);
  }
  return v;
}

export function confBool(conf: Conf, key: string, path: string, fallback: boolean): boolean {
  const v = conf[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw bad(`${path}.${key}`, 'true or false', v);
  return v;
}

export function confString(conf: Conf, key: string, path: string, fallback: string): string {
  const v = conf[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string') throw bad(`${path}.${key}`, 'a string', v);
  return v;
}

export function confObject(conf: Conf, key: string, path: string): Conf {
  const v = conf[key];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(`${path}.${key}`, 'a mapping', v);
  return v as Conf;
}

/** An image size: one integer (square) or [height, width]. */
export function confSize(
  conf: Conf,
  key: string,
  path: string,
  fallback: [number, number],
): [number, number] {
  const v = conf[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return [v, v];
  if (
    Array.isArray(v) &&
    v.length === 2 &&
    v.every((x) => typeof x === 'number' && Number.isInteger(x) && x > 0)
  ) {
    return [v[0], v[1]];
  }
  throw bad(`${path}.${key}`, 'a positive integer or [height, width]', v);
}
