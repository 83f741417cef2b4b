import { monotonicFactory } from 'ulid';
import { UsageError } from './errors.js';

const nextUlid = monotonicFactory();

/** The one id generator: ULIDs sort by creation time and are safe in file names. */
export function newId(): string {
  return nextUlid();
}

/**
 * Ids that end up in file paths or topics must match this: letters, digits, '-' and '_', 1-64 chars,
 * not starting with '-' or '.'. Anything else (../, %2e, NUL, '/', absolute paths) is refused.
 */
const SAFE_ID = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/;

export function isSafeId(value: unknown): value is string {
  return typeof value === 'string' && SAFE_ID.test(value);
}

export function assertSafeId(value: unknown, what: string): string {
  if (!isSafeId(value)) {
    throw new UsageError(
      `${what} ${JSON.stringify(String(value)).slice(0, 80)} is not a valid id`,
      { code: 'bad_id', hint: 'ids use only letters, digits, "-" and "_" (at most 64 characters)' },
    );
  }
  return value;
}
