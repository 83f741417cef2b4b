import type { Db } from '../../db/db.js';
import { statement } from '../../db/statements.js';

/** A refused evidence message: when, from whom (as far as known), on which topic, and why. */
export interface Rejection {
  tsUtc: number;
  deviceId: string | null;
  envelopeId: string | null;
  topic: string;
  reason: string;
  detail: string;
}

/** The `rejections` table: every evidence message the force refused. */
export class RejectionsRepo {
  constructor(private readonly db: Db) {}

  add(r: Rejection): void {
    statement(this.db, 'INSERT INTO rejections (ts_utc, device_id, envelope_id, topic, reason, detail) VALUES (?, ?, ?, ?, ?, ?)').run(r.tsUtc, r.deviceId, r.envelopeId, r.topic, r.reason, r.detail);
  }
}
