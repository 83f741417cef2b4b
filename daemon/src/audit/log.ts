import { createHash } from 'node:crypto';
import type { Db } from '../db/db.js';
import { AuditRepo, auditFromRow, type AuditActor, type AuditRow } from '../db/repos/audit.js';
import { canonicalJson } from '../util/canonical.js';
import type { Clock } from '../util/clock.js';
import { UNKNOWN_CLOCK, type ClockState } from '../util/clock-sync.js';
import { newId } from '../util/ids.js';
import { assertWellFormedText } from '../util/text.js';

/**
 * The audit log (DPA 2018 s.62 style): every collection, consultation, disclosure, combination,
 * alteration, erasure, login and command is one row. Rows are append-only (SQLite triggers) and
 * hash-chained: each row's hash covers its content and the previous row's hash, so editing or
 * removing a row breaks the chain from that row on. The signed head (count + head hash) is sent to
 * the force regularly so truncation of the tail is detectable too.
 */

// The rows' shapes are declared by their repository; the chain's rules live here.
export type { ActorType, AuditActor, AuditRow } from '../db/repos/audit.js';

export interface AuditRecord {
  actor: AuditActor;
  /** Dotted verb, e.g. `incident.logged`, `buffer.deleted`, `evidence.sent`, `camera.added`. */
  action: string;
  objectIds?: string[];
  sha256s?: string[];
  justification?: string;
  recipient?: string;
  result?: 'ok' | 'error' | 'denied';
  /** Extra facts (counts, periods, reasons). Never secrets or face data. */
  detail?: Record<string, unknown>;
}

export interface AuditHead {
  count: number;
  head_hash: string;
  ts: number;
}

export interface VerifyResult {
  ok: boolean;
  count: number;
  headHash: string;
  firstBad?: { seq: number; id: string; reason: string };
}

export const GENESIS_HASH = '0'.repeat(64);

const sha256hex = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * The SHA-256 of a row's content: the canonical JSON of everything but its link (prev_hash, hash, hv).
 * What a box sends the force for each row since an acknowledged head: the force can chain them without
 * seeing any row.
 */
export function contentDigest(row: Omit<AuditRow, 'hash' | 'prev_hash' | 'hv'>): string {
  const { seq, id, ts_utc, clock, actor, action, object_ids, sha256s, justification, recipient, result, detail } = row;
  return sha256hex(canonicalJson({ seq, id, ts_utc, clock, actor, action, object_ids, sha256s, justification, recipient, result, detail }));
}

/** The next link of a format-2 chain: SHA-256 of the previous hash and the row's content digest (both hex). */
export function linkHash(prevHash: string, digest: string): string {
  return sha256hex(prevHash + digest);
}

/**
 * The hash of a row. Format 2 (every row written now): `linkHash(prev_hash, contentDigest(row))`. Format 1
 * (rows written before the force could check heads): SHA-256 over the canonical JSON of the row with its
 * prev_hash. Both commit to the content and the previous row.
 */
export function rowHash(row: Omit<AuditRow, 'hash'>): string {
  if (row.hv === 2) return linkHash(row.prev_hash, contentDigest(row));
  const { seq, id, ts_utc, clock, actor, action, object_ids, sha256s, justification, recipient, result, detail, prev_hash } = row;
  return sha256hex(canonicalJson({ seq, id, ts_utc, clock, actor, action, object_ids, sha256s, justification, recipient, result, detail, prev_hash }));
}

export class AuditLog {
  private readonly repo: AuditRepo;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly clockState: () => ClockState = () => UNKNOWN_CLOCK,
  ) {
    this.repo = new AuditRepo(db);
  }

  /**
   * Append one row. Synchronous: call it inside the same `db.transaction` as the change it records,
   * so the change and its audit row commit together or not at all.
   */
  append(record: AuditRecord): AuditRow {
    // SQLite stores text as UTF-8: a lone surrogate would be stored as U+FFFD while its escape was hashed,
    // and the honest row would fail verification. Refuse it, so the hash covers exactly the stored text.
    assertWellFormedText(record, 'audit record');
    const write = (): AuditRow => {
      const last = this.repo.last();
      const cs = this.clockState();
      const row: Omit<AuditRow, 'hash'> = {
        seq: (last?.seq ?? this.repo.anchor()?.seq ?? 0) + 1,
        id: newId(),
        ts_utc: this.clock.now(),
        clock: { synced: cs.synced, offset_ms: cs.offset_ms },
        actor: record.actor.role === undefined ? { type: record.actor.type, id: record.actor.id } : { ...record.actor },
        action: record.action,
        object_ids: record.objectIds ?? [],
        sha256s: record.sha256s ?? [],
        justification: record.justification ?? null,
        recipient: record.recipient ?? null,
        result: record.result ?? 'ok',
        detail: record.detail ?? {},
        prev_hash: last?.hash ?? this.repo.anchor()?.hash ?? GENESIS_HASH,
        hv: 2,
      };
      const full: AuditRow = { ...row, hash: rowHash(row) };
      this.repo.insert(full);
      return full;
    };
    // Outside a transaction, take the write lock first so two processes cannot pick the same seq.
    return this.db.inTransaction ? write() : this.db.transaction(write).immediate();
  }

  head(): AuditHead {
    const last = this.repo.last() ?? this.repo.anchor();
    return { count: last?.seq ?? 0, head_hash: last?.hash ?? GENESIS_HASH, ts: this.clock.now() };
  }

  /** The hash of the chain at `count` rows (undefined when that row was pruned or never written). */
  hashAt(count: number): string | undefined {
    if (count === 0) return GENESIS_HASH;
    const anchor = this.repo.anchor();
    if (anchor?.seq === count) return anchor.hash;
    return this.repo.at(count)?.hash;
  }

  /**
   * The content digests of rows `fromCount + 1` to `toCount`, for the force to chain from its acknowledged
   * head; undefined when one of them is of link format 1 (written before format 2 existed) or pruned.
   */
  digestsBetween(fromCount: number, toCount: number): string[] | undefined {
    const out: string[] = [];
    for (const row of this.repo.rowsFrom(fromCount + 1)) {
      if (row.seq > toCount) break;
      if (row.hv !== 2 || row.seq !== fromCount + 1 + out.length) return undefined;
      out.push(contentDigest(row));
    }
    return out.length === toCount - fromCount ? out : undefined;
  }

  /**
   * Delete rows the force acknowledged (up to `ackedCount`) that are older than `beforeUtc`, keeping the
   * last deleted row's place in the chain as the anchor the rest link to. Returns how many were deleted.
   */
  prune(ackedCount: number, beforeUtc: number): number {
    return this.db.transaction(() => {
      const to = this.repo.lastPrunable(ackedCount, beforeUtc);
      if (!to) return 0;
      const n = this.repo.pruneTo(to, this.clock.now());
      this.append({ actor: { type: 'system', id: 'audit' }, action: 'audit.pruned', objectIds: [String(to.seq)], detail: { rows: n, anchor_seq: to.seq, anchor_hash: to.hash } });
      return n;
    })();
  }

  /** Rows in order, from `fromSeq` (inclusive). */
  rows(fromSeq = 1): IterableIterator<AuditRow> {
    return this.repo.rowsFrom(fromSeq);
  }

  find(filter: { action?: string; objectId?: string }): AuditRow[] {
    const out: AuditRow[] = [];
    for (const row of this.rows()) {
      if (filter.action && row.action !== filter.action) continue;
      if (filter.objectId && !row.object_ids.includes(filter.objectId)) continue;
      out.push(row);
    }
    return out;
  }

  /** Walk the chain (from the anchor when rows were pruned); report the first row whose sequence, link or content does not check out. */
  verify(): VerifyResult {
    const anchor = this.repo.anchor();
    let prev = anchor?.hash ?? GENESIS_HASH;
    let expectedSeq = (anchor?.seq ?? 0) + 1;
    let count = anchor?.seq ?? 0;
    for (const raw of this.repo.storedRows()) {
      const bad = (reason: string): VerifyResult => ({ ok: false, count, headHash: prev, firstBad: { seq: raw.seq, id: raw.id, reason } });
      if (raw.seq !== expectedSeq) return bad(`sequence jumps from ${expectedSeq - 1} to ${raw.seq} (rows removed)`);
      if (raw.prev_hash !== prev) return bad('its link to the previous row does not match (a row before it was changed or removed)');
      let row: AuditRow;
      try {
        row = auditFromRow(raw);
      } catch {
        return bad('the row is unreadable (its JSON fields were changed)');
      }
      if (rowHash(row) !== row.hash) return bad('its content does not match its hash (the row was changed)');
      prev = row.hash;
      expectedSeq += 1;
      count += 1;
    }
    return { ok: true, count, headHash: prev };
  }
}
