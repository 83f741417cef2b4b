import { UsageError } from '../util/errors.js';

/** A command-line number that must be a positive integer (exit 2 otherwise). */
export function positiveInt(value: string | number, what: string): number {
  return intInRange(value, what, 1, Number.MAX_SAFE_INTEGER);
}

/** A whole number within [min, max], with a message that says which bound was crossed. */
export function intInRange(value: string | number, what: string, min: number, max: number, unit = ''): number {
  const text = String(value).trim();
  const n = Number(text);
  const u = unit ? ` ${unit}` : '';
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(n)) throw new UsageError(`${what} must be a whole number${unit ? ` of ${unit}` : ''}, not ${JSON.stringify(String(value))}`);
  if (n < min) throw new UsageError(`${what} ${n}${u} is too small: the least is ${min}${u}`);
  if (n > max) throw new UsageError(`${what} ${n}${u} is too large: the most is ${max}${u}`);
  return n;
}

/** A commander option parser for a whole number in range: help then shows the default as a number. */
export function intOption(what: string, min: number, max: number, unit = ''): (value: string) => number {
  return (value) => intInRange(value, what, min, max, unit);
}
