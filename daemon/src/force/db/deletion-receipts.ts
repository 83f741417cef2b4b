import type { Db } from '../../db/db.js';

/** One audit row of a box's deletion report (the wire's shape: protocol/schemas.ts DeletionsManifestSchema rows). */
export interface ReportedDeletion {
  seq: number;
  id: string;
  ts_utc: number;
  action: string;
  object_ids: string[];
  sha256s: string[];
  detail: Record<string, unknown>;
  hash: string;
}

/** A box's deletion, as its receipt told the force. */
export interface DeletionReceipt {
  device_id: string;
  seq: number;
  ts_utc: number;
  action: string;
  object_ids: string[];
  sha256s: string[];
  detail: Record<string, unknown>;
  row_hash: string;
  envelope_id: string;
  received_utc: number;
}

interface Row extends Omit<DeletionReceipt, 'object_ids' | 'sha256s' | 'detail'> {
  object_ids: string;
  sha256s: string;
  detail: string;
}

/** SQL for deletion_receipts: one row per audit row of a box's deletion, kept once however often it arrives. */
export class DeletionReceiptsRepo {
  constructor(private readonly db: Db) {}

  /** Adds the rows not kept yet; returns how many were new. */
  addAll(deviceId: string, envelopeId: string, rows: readonly ReportedDeletion[], now: number): number {
    const stmt = this.db.prepare(
      `INSERT OR IGNORE INTO deletion_receipts (device_id, seq, row_id, ts_utc, action, object_ids, sha256s, detail, row_hash, envelope_id, received_utc)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    let added = 0;
    for (const r of rows) added += stmt.run(deviceId, r.seq, r.id, r.ts_utc, r.action, JSON.stringify(r.object_ids), JSON.stringify(r.sha256s), JSON.stringify(r.detail), r.hash, envelopeId, now).changes;
    return added;
  }

  /** A box's deletions, newest first; those naming `objectId` (an incident or camera) when given. */
  list(deviceId: string, limit: number, objectId?: string): DeletionReceipt[] {
    const rows = (
      objectId === undefined
        ? this.db.prepare('SELECT * FROM deletion_receipts WHERE device_id = ? ORDER BY seq DESC LIMIT ?').all(deviceId, limit)
        : this.db.prepare('SELECT d.* FROM deletion_receipts d, json_each(d.object_ids) j WHERE d.device_id = ? AND j.value = ? ORDER BY d.seq DESC LIMIT ?').all(deviceId, objectId, limit)
    ) as Row[];
    return rows.map((r) => ({ ...r, object_ids: JSON.parse(r.object_ids) as string[], sha256s: JSON.parse(r.sha256s) as string[], detail: JSON.parse(r.detail) as Record<string, unknown> }));
  }
}
