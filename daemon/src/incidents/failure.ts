import { errorMessage, HindsightError } from '../util/errors.js';
import type { FailureWait, WaitEvent } from './model.js';

/** What a failed step needs before it can succeed: time (retry later), an event, or a person. */
export type FailureNeed = 'retry' | 'person' | { event: WaitEvent };

/**
 * A step failure that says what it needs. Steps throw it when they know (no footage at all needs a
 * person: retrying cannot make footage appear); any other error is taken as transient and retried.
 */
export class IncidentStepError extends HindsightError {
  constructor(
    message: string,
    readonly needs: FailureNeed,
    options: { code: string; hint?: string; cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Error codes thrown outside incidents/ that wait for an event rather than for time. */
const EVENT_CODES: Record<string, WaitEvent> = {
  not_enrolled: 'enrolled',
  keyset_expired: 'enrolled',
  outbox_full: 'outbox_space',
};

/** Error codes that no amount of waiting mends: a person must act. */
const PERSON_CODES = new Set(['faces_unavailable', 'model_missing', 'model_tampered', 'model_unknown', 'models_manifest', 'no_footage']);

export interface ClassifiedFailure {
  reason: string;
  code: string;
  hint: string | undefined;
  needs: FailureNeed;
}

export function classifyFailure(err: unknown): ClassifiedFailure {
  if (err instanceof IncidentStepError) return { reason: err.message, code: err.code, hint: err.hint, needs: err.needs };
  if (err instanceof HindsightError) {
    const event = EVENT_CODES[err.code];
    const needs: FailureNeed = event ? { event } : PERSON_CODES.has(err.code) ? 'person' : 'retry';
    return { reason: err.message, code: err.code, hint: err.hint, needs };
  }
  return { reason: errorMessage(err), code: 'error', hint: undefined, needs: 'retry' };
}

export interface RetryPolicy {
  firstDelayMs: number;
  /** Failed attempts of a step (the first run included) after which it waits for a person. */
  maxAttempts: number;
}

const MAX_RETRY_DELAY_MS = 3_600_000;

/**
 * Where a failure leaves the incident. `attempts` counts the failed attempts of this step including this
 * one; waiting for an event uses none. Backoff doubles from the first delay up to an hour; once a step
 * has failed `maxAttempts` times the incident waits for a person.
 */
export function waitAfterFailure(needs: FailureNeed, attempts: number, policy: RetryPolicy, nowMs: number): FailureWait {
  if (typeof needs === 'object') return { kind: 'event', event: needs.event };
  if (needs === 'person' || attempts >= policy.maxAttempts) return { kind: 'person' };
  return { kind: 'retry', atMs: nowMs + Math.min(MAX_RETRY_DELAY_MS, policy.firstDelayMs * 2 ** (attempts - 1)) };
}
