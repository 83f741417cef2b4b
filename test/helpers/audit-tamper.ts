import type Database from 'better-sqlite3';
import { rowHash, type AuditRow } from '../../daemon/src/audit/log.js';

/**
 * What root on a box could do to its audit log: change row `seq`'s detail and re-hash every row after it,
 * past the append-only trigger, so the log verifies again on the box. Only the force's acknowledged heads
 * can tell.
 */
export function rewriteAuditRow(db: Database.Database, seq: number, detail: Record<string, unknown>): void {
  db.exec('DROP TRIGGER IF EXISTS audit_no_update');
  const all = db.prepare('SELECT * FROM audit ORDER BY seq').all() as (Record<string, unknown> & { seq: number })[];
  let prev = (all[0]?.prev_hash as string | undefined) ?? '0'.repeat(64);
  for (const r of all) {
    const row = {
      seq: r.seq,
      id: r.id,
      ts_utc: r.ts_utc,
      clock: { synced: r.clock_synced === 1, offset_ms: r.clock_offset_ms },
      actor: r.actor_role === null ? { type: r.actor_type, id: r.actor_id } : { type: r.actor_type, id: r.actor_id, role: r.actor_role },
      action: r.action,
      object_ids: JSON.parse(r.object_ids as string),
      sha256s: JSON.parse(r.sha256s as string),
      justification: r.justification,
      recipient: r.recipient,
      result: r.result,
      detail: r.seq === seq ? detail : JSON.parse(r.detail as string),
      prev_hash: prev,
      hv: r.hv,
    } as Omit<AuditRow, 'hash'>;
    const hash = rowHash(row);
    db.prepare('UPDATE audit SET detail = ?, prev_hash = ?, hash = ? WHERE seq = ?').run(JSON.stringify(row.detail), prev, hash, r.seq);
    prev = hash;
  }
}
