import type { AuditActor, AuditLog } from '../audit/log.js';
import type { Db } from '../store/db.js';
import type { IncidentsRepo } from '../store/repos/incidents.js';
import type { Clock } from '../util/clock.js';
import { HindsightError } from '../util/errors.js';
import { canTransition, TERMINAL_STATES, type Incident, type IncidentState } from './model.js';

export interface TransitionOptions {
  actor: AuditActor;
  /** Why, for failures and cancellations (goes to the audit row and the incident). */
  reason?: string;
  justification?: string;
  detail?: Record<string, unknown>;
  sha256s?: string[];
  /** A failure that retrying cannot mend (e.g. no footage at all): wait for a person, no auto-retry. */
  permanent?: boolean;
  /** Other writes that must commit with this transition (outbox row, lock release...). */
  alsoInTransaction?: (incident: Incident) => void;
}

export interface RetryPolicy {
  firstDelayMs: number;
  maxAttempts: number;
}

const MAX_RETRY_DELAY_MS = 3_600_000;

/**
 * The only way an incident changes state: checks the transition is allowed and writes the new state,
 * its audit row and any companion writes in one immediate transaction.
 */
export class IncidentStateMachine {
  constructor(
    private readonly db: Db,
    private readonly repo: IncidentsRepo,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly retry: RetryPolicy,
  ) {}

  transition(id: string, to: IncidentState, options: TransitionOptions): Incident {
    return this.db.transaction(() => {
      const current = this.repo.get(id);
      if (!current) throw new HindsightError(`no incident ${id}`, { code: 'not_found' });
      if (!canTransition(current.state, to)) {
        throw new HindsightError(`incident ${id} cannot go from ${current.state} to ${to}`, { code: 'bad_transition' });
      }
      const now = this.clock.now();
      let attempts = current.attempts;
      let nextAttemptMs: number | null = null;
      let failedState: IncidentState | null = null;
      let failure: string | null = null;
      if (to === 'failed') {
        attempts += 1;
        failedState = current.state;
        failure = options.reason ?? 'unknown failure';
        // Automatic retries back off; after the last one it waits for a person (`incident retry`).
        if (!options.permanent && attempts <= this.retry.maxAttempts) nextAttemptMs = now + Math.min(MAX_RETRY_DELAY_MS, this.retry.firstDelayMs * 2 ** (attempts - 1));
      }
      this.repo.setState(id, { state: to, failedState, failure, attempts, nextAttemptMs, nowMs: now, closed: TERMINAL_STATES.includes(to) });
      const updated = this.repo.get(id)!;
      options.alsoInTransaction?.(updated);
      this.audit.append({
        actor: options.actor,
        action: `incident.${to}`,
        objectIds: [id],
        sha256s: options.sha256s,
        justification: options.justification,
        result: to === 'failed' ? 'error' : 'ok',
        detail: { from: current.state, ...(options.reason ? { reason: options.reason } : {}), ...options.detail },
      });
      return updated;
    }).immediate();
  }
}
