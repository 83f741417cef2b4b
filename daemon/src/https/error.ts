import { HindsightError } from '../util/errors.js';

/** An error a web request answers with its own HTTP status (401, 403, 429...). */
export class WebError extends HindsightError {
  constructor(
    readonly status: number,
    message: string,
    options: { code: string; hint?: string; retryAfterS?: number },
  ) {
    super(message, options);
    this.retryAfterS = options.retryAfterS;
  }
  readonly retryAfterS: number | undefined;
}
