import { UsageError } from '../util/errors.js';
import { parseWhen } from '../util/when.js';

/** A time option on the command line, in the one grammar of every command (util/when.ts), named in errors. */
export function parseTimeArg(text: string, nowMs: number, option: string): number {
  try {
    return parseWhen(text, nowMs);
  } catch (err) {
    if (err instanceof UsageError) throw new UsageError(`${option}: ${err.message}`, { code: err.code, hint: err.hint });
    throw err;
  }
}
