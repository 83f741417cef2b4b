import type { Clock } from '../../util/clock.js';
import { newId } from '../../util/ids.js';
import type { Db } from '../db.js';
import { statement } from '../statements.js';

/** Something an operator must act on (shown by `buffer status`, the UI and health telemetry). */
export interface Alarm {
  id: string;
  kind: string;
  subject: string;
  message: string;
  raisedUtcMs: number;
  clearedUtcMs: number | null;
}

interface Row {
  id: string;
  kind: string;
  subject: string;
  message: string;
  raised_utc_ms: number;
  cleared_utc_ms: number | null;
}

const COLUMNS = 'id, kind, subject, message, raised_utc_ms, cleared_utc_ms';
const fromRow = (r: Row): Alarm => ({ id: r.id, kind: r.kind, subject: r.subject, message: r.message, raisedUtcMs: r.raised_utc_ms, clearedUtcMs: r.cleared_utc_ms });

/** At most one active alarm per (kind, subject); raising it again only refreshes its message. */
export class AlarmsRepo {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  active(kind?: string): Alarm[] {
    const rows = kind
      ? statement(this.db, `SELECT ${COLUMNS} FROM alarms WHERE cleared_utc_ms IS NULL AND kind = ? ORDER BY raised_utc_ms`).all(kind)
      : statement(this.db, `SELECT ${COLUMNS} FROM alarms WHERE cleared_utc_ms IS NULL ORDER BY raised_utc_ms`).all();
    return (rows as Row[]).map(fromRow);
  }

  /** Raise (or refresh) an alarm; `created` tells whether it is new. */
  raise(kind: string, subject: string, message: string): { alarm: Alarm; created: boolean } {
    const existing = statement(this.db, `SELECT ${COLUMNS} FROM alarms WHERE cleared_utc_ms IS NULL AND kind = ? AND subject = ?`).get(kind, subject) as Row | undefined;
    if (existing) {
      if (existing.message !== message) statement(this.db, 'UPDATE alarms SET message = ? WHERE id = ?').run(message, existing.id);
      return { alarm: { ...fromRow(existing), message }, created: false };
    }
    const alarm: Alarm = { id: newId(), kind, subject, message, raisedUtcMs: this.clock.now(), clearedUtcMs: null };
    statement(this.db, `INSERT INTO alarms (${COLUMNS}) VALUES (?, ?, ?, ?, ?, NULL)`).run(alarm.id, kind, subject, message, alarm.raisedUtcMs);
    return { alarm, created: true };
  }

  /** Clear an active alarm; returns it, or undefined when none was active. */
  clear(kind: string, subject: string): Alarm | undefined {
    const existing = statement(this.db, `SELECT ${COLUMNS} FROM alarms WHERE cleared_utc_ms IS NULL AND kind = ? AND subject = ?`).get(kind, subject) as Row | undefined;
    if (!existing) return undefined;
    const now = this.clock.now();
    statement(this.db, 'UPDATE alarms SET cleared_utc_ms = ? WHERE id = ?').run(now, existing.id);
    return { ...fromRow(existing), clearedUtcMs: now };
  }
}
