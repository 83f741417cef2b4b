import type { Db } from '../db.js';
import { statement } from '../statements.js';

/** The `master_holds` table: until when an incident's master clips are kept whatever the retention says. */
export class MasterHoldsRepo {
  constructor(private readonly db: Db) {}

  /** Hold until `untilUtc` (replacing an earlier hold), or release with undefined. */
  set(incidentId: string, untilUtc: number | undefined, by: string, nowUtc: number): void {
    if (untilUtc === undefined) statement(this.db, 'DELETE FROM master_holds WHERE incident_id = ?').run(incidentId);
    else
      statement(this.db, 'INSERT INTO master_holds (incident_id, until_utc, set_utc, set_by) VALUES (?, ?, ?, ?) ON CONFLICT (incident_id) DO UPDATE SET until_utc = excluded.until_utc, set_utc = excluded.set_utc, set_by = excluded.set_by').run(
        incidentId,
        untilUtc,
        nowUtc,
        by,
      );
  }

  /** When the hold on an incident ends, or undefined when it has none. */
  until(incidentId: string): number | undefined {
    return (statement(this.db, 'SELECT until_utc FROM master_holds WHERE incident_id = ?').pluck().get(incidentId) as number | undefined) ?? undefined;
  }
}
