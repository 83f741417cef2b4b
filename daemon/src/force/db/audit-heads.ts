import type { Db } from '../../db/db.js';
import { statement } from '../../db/statements.js';

export type AuditHeadStatus = 'baseline' | 'extended' | 'alarm';

/** The latest audit head of a box the force checked: acknowledged (baseline, extended) or not (alarm). */
export interface AuditHeadState {
  deviceId: string;
  count: number;
  headHash: string;
  boxTs: number;
  checkedUtc: number;
  status: AuditHeadStatus;
  /** Why the box's log is not trusted any more (rewritten, truncated, forked), for an alarm. */
  alarm: string | null;
  /** The box's epoch (a new one after each restore from a backup; 0 and null before any). */
  epochN: number;
  epochId: string | null;
}

interface Row {
  device_id: string;
  count: number;
  head_hash: string;
  box_ts: number;
  checked_utc: number;
  status: AuditHeadStatus;
  alarm: string | null;
  epoch_n: number;
  epoch_id: string | null;
}

const fromRow = (r: Row): AuditHeadState => ({ deviceId: r.device_id, count: r.count, headHash: r.head_hash, boxTs: r.box_ts, checkedUtc: r.checked_utc, status: r.status, alarm: r.alarm, epochN: r.epoch_n, epochId: r.epoch_id });

/** The `audit_heads` table. */
export class AuditHeadsRepo {
  constructor(private readonly db: Db) {}

  get(deviceId: string): AuditHeadState | undefined {
    const r = statement(this.db, 'SELECT * FROM audit_heads WHERE device_id = ?').get(deviceId) as Row | undefined;
    return r && fromRow(r);
  }

  /** Every box's latest checked head. */
  list(): AuditHeadState[] {
    return (statement(this.db, 'SELECT * FROM audit_heads').all() as Row[]).map(fromRow);
  }

  /** An acknowledged head (the new reference for the box's next one). */
  acknowledge(deviceId: string, head: { count: number; headHash: string; boxTs: number; epoch?: { n: number; id: string } }, status: 'baseline' | 'extended', nowUtc: number): void {
    statement(
      this.db,
      `INSERT INTO audit_heads (device_id, count, head_hash, box_ts, checked_utc, status, alarm, epoch_n, epoch_id) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)
       ON CONFLICT (device_id) DO UPDATE SET count = excluded.count, head_hash = excluded.head_hash, box_ts = excluded.box_ts, checked_utc = excluded.checked_utc, status = excluded.status, alarm = NULL,
         epoch_n = excluded.epoch_n, epoch_id = excluded.epoch_id`,
    ).run(deviceId, head.count, head.headHash, head.boxTs, nowUtc, status, head.epoch?.n ?? 0, head.epoch?.id ?? null);
  }

  /** The box's log failed a check: the acknowledged head stays as it was, the alarm is set. */
  alarm(deviceId: string, why: string, nowUtc: number): void {
    statement(this.db, "UPDATE audit_heads SET status = 'alarm', alarm = ?, checked_utc = ? WHERE device_id = ?").run(why, nowUtc, deviceId);
  }
}
