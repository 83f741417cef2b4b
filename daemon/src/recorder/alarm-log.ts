import type { Logger } from 'pino';
import type { AuditLog } from '../audit/log.js';
import type { Db } from '../db/db.js';
import { AlarmsRepo } from '../db/repos/alarms.js';
import type { Clock } from '../util/clock.js';

export interface AlarmLogDeps {
  db: Db;
  audit: AuditLog;
  clock: Clock;
  log: Logger;
}

/**
 * Raises and clears alarms for one part of the daemon (`source`: retention, recorder), with an audit row and a
 * log line when an alarm appears or goes, so the operator sees it in `buffer status`, the UI and the log.
 */
export class AlarmLog {
  private readonly alarms: AlarmsRepo;

  constructor(
    private readonly deps: AlarmLogDeps,
    private readonly source: string,
  ) {
    this.alarms = new AlarmsRepo(deps.db, deps.clock);
  }

  raise(kind: string, subject: string, message: string): void {
    this.deps.db.transaction(() => {
      const { alarm, created } = this.alarms.raise(kind, subject, message);
      if (created) {
        this.deps.audit.append({ actor: { type: 'system', id: this.source }, action: 'alarm.raised', objectIds: [alarm.id, subject], detail: { kind, message } });
        this.deps.log.error({ alarm: kind, subject }, message);
      }
    })();
  }

  clear(kind: string, subject: string): void {
    // a read first: clearing an alarm that is not raised (the usual case, polled) takes no write lock
    if (!this.alarms.active(kind).some((a) => a.subject === subject)) return;
    this.deps.db.transaction(() => {
      const cleared = this.alarms.clear(kind, subject);
      if (cleared) {
        this.deps.audit.append({ actor: { type: 'system', id: this.source }, action: 'alarm.cleared', objectIds: [cleared.id, subject], detail: { kind } });
        this.deps.log.info({ alarm: kind, subject }, 'alarm cleared');
      }
    })();
  }

  active(kind: string): ReturnType<AlarmsRepo['active']> {
    return this.alarms.active(kind);
  }
}
