/**
 * Errors that reach a user carry what went wrong and what to do about it.
 * The CLI maps them to exit codes: UsageError -> 2, anything else -> 1.
 */
export class HindsightError extends Error {
  /** A sentence telling the operator how to fix it, shown after the message. */
  readonly hint: string | undefined;
  /** A short machine-readable code for APIs and tests. */
  readonly code: string;

  constructor(message: string, options: { hint?: string; code?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
    this.code = options.code ?? 'error';
  }
}

/** The command line was wrong (unknown option, bad argument, invalid config file). */
export class UsageError extends HindsightError {
  constructor(message: string, options: { hint?: string; code?: string } = {}) {
    super(message, { code: 'usage', ...options });
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
