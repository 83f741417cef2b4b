import type { Db } from '../db.js';
import { statement } from '../statements.js';

/** The audit table's rows (the hash chain, its rules and its verification are in audit/log.ts). */
export type ActorType = 'system' | 'user' | 'button' | 'cli' | 'force' | 'device';

export interface AuditActor {
  type: ActorType;
  id: string;
  role?: string;
}

/** One audit row as exported and hashed: snake_case, JSON fields parsed. */
export interface AuditRow {
  seq: number;
  id: string;
  ts_utc: number;
  clock: { synced: boolean; offset_ms: number | null };
  actor: AuditActor;
  action: string;
  object_ids: string[];
  sha256s: string[];
  justification: string | null;
  recipient: string | null;
  result: 'ok' | 'error' | 'denied';
  detail: Record<string, unknown>;
  prev_hash: string;
  hash: string;
  /** Link format: 1 = hash over the whole row with prev_hash; 2 = hash of prev_hash and the content digest. */
  hv: 1 | 2;
}

/** An audit table row as SQLite returns it (verification reads these before trusting their JSON). */
export interface StoredAuditRow {
  seq: number;
  id: string;
  ts_utc: number;
  clock_synced: number;
  clock_offset_ms: number | null;
  actor_type: string;
  actor_id: string;
  actor_role: string | null;
  action: string;
  object_ids: string;
  sha256s: string;
  justification: string | null;
  recipient: string | null;
  result: string;
  detail: string;
  prev_hash: string;
  hash: string;
  hv: number;
}

/** Throws when a JSON field was changed into something unreadable. */
export function auditFromRow(r: StoredAuditRow): AuditRow {
  return {
    seq: r.seq,
    id: r.id,
    ts_utc: r.ts_utc,
    clock: { synced: r.clock_synced === 1, offset_ms: r.clock_offset_ms },
    actor: r.actor_role === null ? { type: r.actor_type as ActorType, id: r.actor_id } : { type: r.actor_type as ActorType, id: r.actor_id, role: r.actor_role },
    action: r.action,
    object_ids: JSON.parse(r.object_ids) as string[],
    sha256s: JSON.parse(r.sha256s) as string[],
    justification: r.justification,
    recipient: r.recipient,
    result: r.result as AuditRow['result'],
    detail: JSON.parse(r.detail) as Record<string, unknown>,
    prev_hash: r.prev_hash,
    hash: r.hash,
    hv: r.hv === 2 ? 2 : 1,
  };
}

/**
 * SQL for the audit table, of the box's database or the force's (same table). Rows are only ever
 * appended: the table's triggers refuse UPDATE and DELETE.
 */
export class AuditRepo {
  constructor(private readonly db: Db) {}

  /** The newest row's place in the chain, or undefined when the log is empty. */
  last(): { seq: number; hash: string } | undefined {
    return statement(this.db, 'SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined;
  }

  insert(row: AuditRow): void {
    statement(
      this.db,
      `INSERT INTO audit (seq, id, ts_utc, clock_synced, clock_offset_ms, actor_type, actor_id, actor_role, action,
         object_ids, sha256s, justification, recipient, result, detail, prev_hash, hash, hv)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      row.seq,
      row.id,
      row.ts_utc,
      row.clock.synced ? 1 : 0,
      row.clock.offset_ms,
      row.actor.type,
      row.actor.id,
      row.actor.role ?? null,
      row.action,
      JSON.stringify(row.object_ids),
      JSON.stringify(row.sha256s),
      row.justification,
      row.recipient,
      row.result,
      JSON.stringify(row.detail),
      row.prev_hash,
      row.hash,
      row.hv,
    );
  }

  /** The row at `seq`'s place in the chain (its hash and link format), or undefined. */
  at(seq: number): { seq: number; hash: string; hv: number } | undefined {
    return statement(this.db, 'SELECT seq, hash, hv FROM audit WHERE seq = ?').get(seq) as { seq: number; hash: string; hv: number } | undefined;
  }

  /** Where the kept rows start: the last pruned row's place in the chain, or undefined (nothing pruned). */
  anchor(): { seq: number; hash: string } | undefined {
    return statement(this.db, 'SELECT seq, hash FROM audit_anchor WHERE id = 1').get() as { seq: number; hash: string } | undefined;
  }

  /** Rows up to and including `seq` written before `beforeUtc`: the last one's place, or undefined. */
  lastPrunable(upToSeq: number, beforeUtc: number): { seq: number; hash: string } | undefined {
    return statement(this.db, 'SELECT seq, hash FROM audit WHERE seq <= ? AND ts_utc < ? ORDER BY seq DESC LIMIT 1').get(upToSeq, beforeUtc) as { seq: number; hash: string } | undefined;
  }

  /** Move the anchor to `seq` and delete the rows up to it (call inside a transaction). */
  pruneTo(anchor: { seq: number; hash: string }, nowUtc: number): number {
    statement(this.db, 'INSERT INTO audit_anchor (id, seq, hash, pruned_utc) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, pruned_utc = excluded.pruned_utc').run(anchor.seq, anchor.hash, nowUtc);
    return statement(this.db, 'DELETE FROM audit WHERE seq <= ?').run(anchor.seq).changes;
  }

  // The iterations prepare their statement each time: a cached one cannot be iterated twice at once
  // (a caller may read the log while walking it).

  /** Rows in order from `fromSeq` (inclusive), parsed. */
  *rowsFrom(fromSeq: number): IterableIterator<AuditRow> {
    const stmt = this.db.prepare('SELECT * FROM audit WHERE seq >= ? ORDER BY seq');
    for (const r of stmt.iterate(fromSeq) as IterableIterator<StoredAuditRow>) yield auditFromRow(r);
  }

  /** Every row in order, as stored (for verification, which must survive an unreadable row). */
  storedRows(): IterableIterator<StoredAuditRow> {
    return this.db.prepare('SELECT * FROM audit ORDER BY seq').iterate() as IterableIterator<StoredAuditRow>;
  }

  /** Rows of these actions after `afterSeq`, in order, at most `limit` (the deletions the force is told of). */
  ofActionsAfter(actions: readonly string[], afterSeq: number, limit: number): AuditRow[] {
    const rows = this.db.prepare(`SELECT * FROM audit WHERE seq > ? AND action IN (${actions.map(() => '?').join(', ')}) ORDER BY seq LIMIT ?`).all(afterSeq, ...actions, limit) as StoredAuditRow[];
    return rows.map(auditFromRow);
  }

  /** Rows of `action` since `sinceUtc` and the sums of the numeric `fields` of their details (deletion receipts: segments, bytes). */
  totalsOfActionSince<F extends string>(action: string, sinceUtc: number, fields: readonly F[]): { rows: number } & Record<F, number> {
    const sums = fields.map((f, i) => `COALESCE(SUM(json_extract(detail, '$.' || ?)), 0) AS f${i}`);
    const r = this.db.prepare(`SELECT COUNT(*) AS rows${sums.map((x) => `, ${x}`).join('')} FROM audit WHERE action = ? AND ts_utc >= ?`).get(...fields, action, sinceUtc) as Record<string, number>;
    return Object.fromEntries([['rows', r.rows], ...fields.map((f, i) => [f, r[`f${i}`]])]) as { rows: number } & Record<F, number>;
  }

  countOfAction(action: string): number {
    return this.db.prepare('SELECT COUNT(*) FROM audit WHERE action = ?').pluck().get(action) as number;
  }
}
