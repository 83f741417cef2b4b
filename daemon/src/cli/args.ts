import { UsageError } from '../util/errors.js';

/** A command-line number that must be a positive integer (exit 2 otherwise). */
export function positiveInt(value: string, what: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${what} must be a positive integer, not ${JSON.stringify(value)}`);
  return n;
}
