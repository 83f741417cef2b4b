import type { AuditActor, AuditLog } from '../audit/log.js';
import type { Config } from '../config/schema.js';
import type { Db } from '../db/db.js';
import type { AlarmsRepo } from '../db/repos/alarms.js';
import type { IncidentsRepo } from '../db/repos/incidents.js';
import type { Clock } from '../util/clock.js';
import { HindsightError } from '../util/errors.js';
import { waitAfterFailure, type ClassifiedFailure, type RetryPolicy } from './failure.js';
import { canTransition, TERMINAL_STATES, type FailureWait, type Incident, type IncidentState } from './model.js';

export type { RetryPolicy } from './failure.js';

/** The alarm raised for each incident that waits for a person; cleared when it leaves `failed`. */
export const NEEDS_PERSON_ALARM = 'incident.needs_person';

export interface TransitionOptions {
  actor: AuditActor;
  /** Why, for cancellations and retries (goes to the audit row). */
  reason?: string;
  justification?: string;
  detail?: Record<string, unknown>;
  sha256s?: string[];
  /** Other writes that must commit with this transition (outbox row, lock release...). */
  alsoInTransaction?: (incident: Incident) => void;
}

/**
 * The only way an incident changes state: checks the transition is allowed and writes the new state,
 * its audit row and any companion writes in one immediate transaction. A failure (`fail`) always says
 * what the incident now waits for, and one that needs a person raises an alarm in the same transaction.
 */
/** What every part that moves incidents on needs: the database, the state machine, the audit log, time, config. */
export interface IncidentCore {
  db: Db;
  repo: IncidentsRepo;
  machine: IncidentStateMachine;
  audit: AuditLog;
  clock: Clock;
  config: Config;
}

export class IncidentStateMachine {
  constructor(
    private readonly db: Db,
    private readonly repo: IncidentsRepo,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly retry: RetryPolicy,
    private readonly alarms: AlarmsRepo,
  ) {}

  get policy(): RetryPolicy {
    return this.retry;
  }

  transition(id: string, to: Exclude<IncidentState, 'failed'>, options: TransitionOptions): Incident {
    return this.write(id, to, options, () => null);
  }

  /** Mark the incident failed in its current step, with what it now waits for. */
  fail(id: string, failure: ClassifiedFailure, options: TransitionOptions): Incident {
    return this.write(id, 'failed', options, (current, now) => {
      // waiting for an event is not an attempt: it resumes when the event comes, as often as needed
      const attempts = typeof failure.needs === 'object' ? current.attempts : current.attempts + 1;
      return { failure, attempts, wait: waitAfterFailure(failure.needs, attempts, this.retry, now) };
    });
  }

  private write(
    id: string,
    to: IncidentState,
    options: TransitionOptions,
    failed: (current: Incident, now: number) => { failure: ClassifiedFailure; attempts: number; wait: FailureWait } | null,
  ): Incident {
    return this.db.transaction(() => {
      const current = this.repo.get(id);
      if (!current) throw new HindsightError(`no incident ${id}`, { code: 'not_found' });
      if (!canTransition(current.state, to)) {
        throw new HindsightError(`incident ${id} cannot go from ${current.state} to ${to}`, { code: 'bad_transition' });
      }
      const now = this.clock.now();
      const f = failed(current, now);
      // attempts count failures of one step: a retry keeps them, moving on to the next step resets them
      const attempts = f ? f.attempts : current.state === 'failed' ? current.attempts : 0;
      this.repo.setState(id, {
        state: to,
        failedState: f ? current.state : null,
        failure: f?.failure.reason ?? null,
        failureCode: f?.failure.code ?? null,
        wait: f?.wait ?? null,
        attempts,
        nowMs: now,
        closed: TERMINAL_STATES.includes(to),
      });
      const updated = this.repo.get(id)!;
      if (f?.wait.kind === 'person') {
        this.alarms.raise(NEEDS_PERSON_ALARM, id, `incident ${id} failed while ${current.state}: ${f.failure.reason}. A person must act: \`hindsight incident retry ${id}\` once the cause is fixed, or \`hindsight incident cancel ${id}\``);
      } else if (current.state === 'failed') {
        this.alarms.clear(NEEDS_PERSON_ALARM, id);
      }
      options.alsoInTransaction?.(updated);
      this.audit.append({
        actor: options.actor,
        action: `incident.${to}`,
        objectIds: [id],
        sha256s: options.sha256s,
        justification: options.justification,
        result: f ? 'error' : 'ok',
        detail: {
          from: current.state,
          ...(f ? { reason: f.failure.reason, code: f.failure.code, attempt: f.attempts, waits_for: describeWait(f.wait) } : options.reason ? { reason: options.reason } : {}),
          ...options.detail,
        },
      });
      return updated;
    }).immediate();
  }
}

/** A wait in a few words, for audit rows and logs. */
export function describeWait(w: FailureWait): string {
  if (w.kind === 'retry') return `retry at ${new Date(w.atMs).toISOString()}`;
  if (w.kind === 'event') return `event ${w.event}`;
  return 'a person';
}
