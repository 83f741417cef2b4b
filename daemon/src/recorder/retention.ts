import { statfsSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/log.js';
import type { Config } from '../config/schema.js';
import type { Db } from '../db/db.js';
import { AlarmLog } from './alarm-log.js';
import { GapsRepo } from '../db/repos/gaps.js';
import { forceMaxHours } from '../kernel/settings.js';
import { MetaRepo } from '../db/repos/meta.js';
import { SegmentsRepo, type Segment } from '../db/repos/segments.js';
import type { Clock } from '../util/clock.js';

const GB = 1024 ** 3;
const BATCH = 500;


/** Alarm kinds raised by retention. */
export const LOCKED_OVER_QUOTA = 'buffer.locked_over_quota';
export const DISK_LOW = 'buffer.disk_low';

export interface RetentionPolicy {
  retentionMs: number;
  /** 0: no quota. */
  quotaBytes: number;
  minFreeBytes: number;
}

/** The policy in force: the configured hours, lowered to the force's maximum when it set one. */
export function bufferPolicy(config: Config, db: Db): RetentionPolicy {
  const hours = Math.min(config.buffer.hours, forceMaxHours(new MetaRepo(db)) ?? Infinity);
  return { retentionMs: hours * 3600_000, quotaBytes: config.buffer.quota_gb * GB, minFreeBytes: config.buffer.min_free_gb * GB };
}

export type DeletionReason = 'age' | 'quota' | 'free_space';

export interface RetentionOutcome {
  deletedSegments: number;
  deletedBytes: number;
  /** One audit row id per committed deletion batch. */
  receipts: string[];
  totalBytes: number;
  lockedBytes: number;
  /** Cameras whose locked footage alone fills the quota (recording stops while this lasts). */
  overQuotaCameras: string[];
}

export interface RetentionDeps {
  db: Db;
  audit: AuditLog;
  clock: Clock;
  log: Logger;
  bufferDir: string;
  policy: () => RetentionPolicy;
  /** Free bytes on the buffer's disk (injected in tests: a full disk cannot be staged here). */
  freeBytes?: () => number;
}

/**
 * Enforces the buffer policy by segment time, never by file time: segments that ended before now minus the
 * buffer duration go; then, oldest first, unlocked segments while the buffer is over its quota or the disk is
 * under its free-space floor. Segments overlapping a held evidence lock are never touched. Each committed
 * batch of deletions is one `buffer.deleted` audit row: the deletion receipt (period, segments, bytes).
 */
export class Retention {
  private readonly alarms: AlarmLog;
  private readonly gaps: GapsRepo;
  private readonly segments: SegmentsRepo;

  constructor(private readonly deps: RetentionDeps) {
    this.alarms = new AlarmLog(deps, 'retention');
    this.gaps = new GapsRepo(deps.db);
    this.segments = new SegmentsRepo(deps.db);
  }

  run(): RetentionOutcome {
    const policy = this.deps.policy();
    const out: RetentionOutcome = { deletedSegments: 0, deletedBytes: 0, receipts: [], totalBytes: 0, lockedBytes: 0, overQuotaCameras: [] };
    const cutoff = this.deps.clock.now() - policy.retentionMs;
    this.deleteOldest('age', Number.POSITIVE_INFINITY, cutoff, out);
    if (policy.quotaBytes > 0) {
      const excess = this.totalBytes() - policy.quotaBytes;
      if (excess > 0) this.deleteOldest('quota', excess, Number.POSITIVE_INFINITY, out);
    }
    const free = this.freeBytes();
    if (free !== undefined && free < policy.minFreeBytes) this.deleteOldest('free_space', policy.minFreeBytes - free, Number.POSITIVE_INFINITY, out);
    this.gaps.deleteEndedBefore(cutoff);
    out.totalBytes = this.totalBytes();
    this.judgeLocked(policy, out);
    this.judgeDisk(policy);
    return out;
  }

  /**
   * Delete unlocked segments oldest first until `needBytes` are freed, among those that ended by `endedBy`.
   * Files go first, then their rows with the receipt: a crash in between leaves rows without files (removed by
   * the next run), never files without rows (which recovery would index again).
   */
  private deleteOldest(reason: DeletionReason, needBytes: number, endedBy: number, out: RetentionOutcome): void {
    let freed = 0;
    while (freed < needBytes) {
      const batch: Segment[] = [];
      for (const c of this.segments.unlockedEndedBy(endedBy, BATCH)) {
        if (freed >= needBytes) break;
        batch.push(c);
        freed += c.bytes;
      }
      if (batch.length === 0) return;
      const removed = batch.filter((c) => this.unlink(c));
      if (removed.length === 0) return;
      out.receipts.push(this.commit(reason, removed));
      out.deletedSegments += removed.length;
      out.deletedBytes += removed.reduce((n, c) => n + c.bytes, 0);
      if (removed.length < batch.length) return; // some files cannot be removed: do not spin on them
    }
  }

  private unlink(c: Segment): boolean {
    const full = path.resolve(this.deps.bufferDir, c.path);
    if (!full.startsWith(path.resolve(this.deps.bufferDir) + path.sep)) {
      this.deps.log.error({ segment: c.id, path: c.path }, 'a segment path points outside the buffer; its row is dropped, no file touched');
      return true;
    }
    try {
      unlinkSync(full);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
      this.deps.log.error({ err, path: c.path }, 'cannot delete a buffer segment; it stays indexed');
      return false;
    }
  }

  private commit(reason: DeletionReason, removed: Segment[]): string {
    const cameras: Record<string, { segments: number; bytes: number; from_utc_ms: number; to_utc_ms: number }> = {};
    for (const c of removed) {
      const k = (cameras[c.cameraId] ??= { segments: 0, bytes: 0, from_utc_ms: c.startUtcMs, to_utc_ms: c.endUtcMs });
      k.segments += 1;
      k.bytes += c.bytes;
      k.from_utc_ms = Math.min(k.from_utc_ms, c.startUtcMs);
      k.to_utc_ms = Math.max(k.to_utc_ms, c.endUtcMs);
    }
    const bytes = removed.reduce((n, c) => n + c.bytes, 0);
    const row = this.deps.db.transaction(() => {
      this.segments.deleteIds(removed.map((c) => c.id));
      return this.deps.audit.append({
        actor: { type: 'system', id: 'retention' },
        action: 'buffer.deleted',
        objectIds: Object.keys(cameras).sort(),
        detail: {
          reason,
          segments: removed.length,
          bytes,
          from_utc_ms: Math.min(...removed.map((c) => c.startUtcMs)),
          to_utc_ms: Math.max(...removed.map((c) => c.endUtcMs)),
          cameras,
        },
      });
    })();
    this.deps.log.info({ reason, segments: removed.length, bytes, receipt: row.id }, 'deleted buffered footage');
    return row.id;
  }

  private totalBytes(): number {
    return this.segments.totalBytes();
  }

  private freeBytes(): number | undefined {
    if (this.deps.freeBytes) return this.deps.freeBytes();
    try {
      const s = statfsSync(this.deps.bufferDir);
      return s.bavail * s.bsize;
    } catch {
      return undefined;
    }
  }

  /** Locked footage alone at or over the quota: the cameras holding it stop recording, with an alarm each. */
  private judgeLocked(policy: RetentionPolicy, out: RetentionOutcome): void {
    const rows = this.segments.lockedBytesByCamera();
    out.lockedBytes = rows.reduce((n, r) => n + r.bytes, 0);
    const over = policy.quotaBytes > 0 && out.lockedBytes >= policy.quotaBytes;
    out.overQuotaCameras = over ? rows.map((r) => r.cameraId).sort() : [];
    const gb = (b: number): string => (b / GB).toFixed(2);
    for (const camera of out.overQuotaCameras) {
      this.alarms.raise(LOCKED_OVER_QUOTA, camera, `recording stopped: evidence-locked footage (${gb(out.lockedBytes)} GB) fills the buffer quota (${gb(policy.quotaBytes)} GB); release finished incidents' locks or raise buffer.quota_gb`);
    }
    for (const a of this.alarms.active(LOCKED_OVER_QUOTA)) if (!out.overQuotaCameras.includes(a.subject)) this.alarms.clear(LOCKED_OVER_QUOTA, a.subject);
  }

  /** Under the free-space floor with nothing unlocked left to delete: say so (recording goes on, newest first). */
  private judgeDisk(policy: RetentionPolicy): void {
    const free = this.freeBytes();
    if (free !== undefined && free < policy.minFreeBytes) {
      this.alarms.raise(DISK_LOW, 'buffer', `the buffer disk has ${(free / GB).toFixed(2)} GB free, under the ${(policy.minFreeBytes / GB).toFixed(2)} GB floor, and only locked footage is left to delete; free space on the disk`);
    } else this.alarms.clear(DISK_LOW, 'buffer');
  }
}
