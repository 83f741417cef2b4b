import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../../daemon/src/audit/log.js';
import { silentLogger } from '../../../daemon/src/log/logger.js';
import { LOCKED_OVER_QUOTA, DISK_LOW, Retention, type RetentionPolicy } from '../../../daemon/src/recorder/retention.js';
import { openDatabase, type Db } from '../../../daemon/src/db/db.js';
import { AlarmsRepo } from '../../../daemon/src/db/repos/alarms.js';
import { EvidenceLocks } from '../../../daemon/src/db/repos/evidence-locks.js';
import { GapsRepo } from '../../../daemon/src/db/repos/gaps.js';
import { SegmentsRepo, type Segment } from '../../../daemon/src/db/repos/segments.js';
import { ManualClock } from '../../../daemon/src/util/clock.js';
import { tempDir } from '../../helpers/paths.js';

const HOUR = 3600_000;
const T0 = Date.UTC(2026, 2, 1, 0, 0, 0);
const SEG_MS = 4000;
const KB = 1024;

interface Bench {
  db: Db;
  clock: ManualClock;
  audit: AuditLog;
  segments: SegmentsRepo;
  locks: EvidenceLocks;
  bufferDir: string;
  policy: RetentionPolicy;
  free: { bytes: number };
  retention: Retention;
  /** Write `count` consecutive 4 s segments of `kb` KB for a camera from `fromMs`; files are real files. */
  record(cameraId: string, fromMs: number, count: number, kb?: number): Segment[];
  alive(cameraId: string): number[];
}

function bench(): Bench {
  const dir = tempDir();
  const db = openDatabase(path.join(dir, 'h.db'));
  const clock = new ManualClock(T0);
  const audit = new AuditLog(db, clock);
  const bufferDir = path.join(dir, 'buffer');
  const segments = new SegmentsRepo(db);
  const policy: RetentionPolicy = { retentionMs: 24 * HOUR, quotaBytes: 0, minFreeBytes: 0 };
  const free = { bytes: 100 * 1024 ** 3 };
  // The free space of a disk cannot be staged on this shared machine: it is the one injected input.
  const retention = new Retention({ db, audit, clock, log: silentLogger, bufferDir, policy: () => policy, freeBytes: () => free.bytes });
  let run = 0;
  return {
    db,
    clock,
    audit,
    segments,
    locks: new EvidenceLocks(db, clock),
    bufferDir,
    policy,
    free,
    retention,
    record(cameraId, fromMs, count, kb = 10) {
      mkdirSync(path.join(bufferDir, cameraId), { recursive: true });
      const runId = `RUN${String(++run).padStart(23, '0')}`;
      const out: Segment[] = [];
      for (let i = 0; i < count; i++) {
        const rel = `${cameraId}/${runId}_${String(i).padStart(6, '0')}.ts`;
        writeFileSync(path.join(bufferDir, rel), Buffer.alloc(kb * KB, 0x47));
        out.push(segments.insert({ cameraId, path: rel, startUtcMs: fromMs + i * SEG_MS, endUtcMs: fromMs + (i + 1) * SEG_MS, bytes: kb * KB, runId, recovered: false }));
      }
      return out;
    },
    alive(cameraId) {
      return segments.forCamera(cameraId).map((s) => s.startUtcMs);
    },
  };
}

describe('retention by segment time', () => {
  it('deletes segments that ended before now minus the buffer, and nothing younger, with a receipt', () => {
    const b = bench();
    b.policy.retentionMs = 1 * HOUR;
    const segs = b.record('till1', T0, 1800); // two hours of 4 s segments
    b.clock.set(T0 + 2 * HOUR);
    const out = b.retention.run();
    const cutoff = T0 + 1 * HOUR;
    expect(out.deletedSegments).toBe(900);
    const alive = b.segments.forCamera('till1');
    expect(alive).toHaveLength(900);
    expect(Math.min(...alive.map((s) => s.endUtcMs))).toBeGreaterThan(cutoff);
    expect(alive[0]!.startUtcMs).toBe(cutoff);
    for (const s of segs.slice(0, 900)) expect(existsSync(path.join(b.bufferDir, s.path))).toBe(false);
    for (const s of segs.slice(900)) expect(existsSync(path.join(b.bufferDir, s.path))).toBe(true);
    // receipts: batches of at most 500, together the whole period, every segment and byte
    const receipts = b.audit.find({ action: 'buffer.deleted' });
    expect(receipts.map((r) => r.id)).toEqual(out.receipts);
    expect(receipts.reduce((n, r) => n + (r.detail.segments as number), 0)).toBe(900);
    expect(receipts.reduce((n, r) => n + (r.detail.bytes as number), 0)).toBe(900 * 10 * KB);
    expect(receipts[0]!.detail).toMatchObject({ reason: 'age', from_utc_ms: T0 });
    expect(receipts[receipts.length - 1]!.detail).toMatchObject({ to_utc_ms: cutoff });
    expect(receipts[0]!.object_ids).toEqual(['till1']);
    // the clock moves one segment on: exactly one more goes
    b.clock.advance(SEG_MS);
    expect(b.retention.run().deletedSegments).toBe(1);
    expect(b.retention.run().deletedSegments).toBe(0);
    expect(b.audit.verify().ok).toBe(true);
  });

  it('never deletes footage under a held evidence lock, including footage recorded after the lock was taken', () => {
    const b = bench();
    b.policy.retentionMs = 1 * HOUR;
    b.record('till1', T0, 450); // 30 min
    // an incident at T0+10 min whose window reaches 20 min into the future of the recording so far
    b.clock.set(T0 + 30 * 60_000);
    b.locks.acquire('INC-1', 'till1', T0 + 10 * 60_000, T0 + 50 * 60_000);
    b.record('till1', T0 + 30 * 60_000, 450); // the next 30 min, recorded after the lock
    b.clock.set(T0 + 3 * HOUR);
    b.retention.run();
    const alive = b.segments.forCamera('till1');
    expect(alive[0]!.startUtcMs).toBe(T0 + 10 * 60_000);
    expect(alive[alive.length - 1]!.endUtcMs).toBe(T0 + 50 * 60_000);
    expect(alive).toHaveLength(600); // exactly the 40 locked minutes
    // releasing lets normal retention delete it
    expect(b.locks.releaseAll('INC-1')).toHaveLength(1);
    b.retention.run();
    expect(b.segments.forCamera('till1')).toHaveLength(0);
  });
});

describe('quota and free space', () => {
  it('over quota, deletes oldest first across cameras, skipping locked footage', () => {
    const b = bench();
    b.record('till1', T0, 100, 10); // 1000 KB, older
    b.record('door', T0 + 100 * SEG_MS, 100, 10); // 1000 KB, younger
    b.locks.acquire('INC-2', 'till1', T0, T0 + 10 * SEG_MS); // the 10 oldest segments of till1
    b.policy.quotaBytes = 1500 * KB;
    b.clock.set(T0 + HOUR);
    const out = b.retention.run();
    expect(out.totalBytes).toBeLessThanOrEqual(1500 * KB);
    expect(out.deletedSegments).toBe(50);
    expect(b.alive('till1')).toEqual([...Array(10).keys(), ...Array.from({ length: 40 }, (_, i) => 60 + i)].map((i) => T0 + i * SEG_MS));
    expect(b.alive('door')).toHaveLength(100);
    expect(b.audit.find({ action: 'buffer.deleted' })[0]!.detail).toMatchObject({ reason: 'quota', segments: 50, bytes: 500 * KB });
    expect(out.overQuotaCameras).toEqual([]);
  });

  it('under the free-space floor, deletes oldest unlocked footage until the floor is met', () => {
    const b = bench();
    b.record('till1', T0, 100, 10);
    b.policy.minFreeBytes = 2000 * KB;
    b.free.bytes = 1700 * KB;
    b.clock.set(T0 + HOUR);
    const out = b.retention.run();
    expect(out.deletedSegments).toBe(30);
    expect(b.alive('till1')[0]).toBe(T0 + 30 * SEG_MS);
    expect(b.audit.find({ action: 'buffer.deleted' })[0]!.detail.reason).toBe('free_space');
    // the injected disk does not get freer, and only locked footage would be left: an alarm says so
    b.locks.acquire('INC-3', 'till1', T0, T0 + HOUR);
    b.retention.run();
    expect(new AlarmsRepo(b.db, b.clock).active(DISK_LOW)).toHaveLength(1);
    b.free.bytes = 10_000 * KB;
    b.retention.run();
    expect(new AlarmsRepo(b.db, b.clock).active(DISK_LOW)).toHaveLength(0);
  });

  it('when locked footage alone fills the quota, deletes nothing locked, names the cameras holding it and raises an alarm until it clears', () => {
    const b = bench();
    b.record('till1', T0, 100, 10);
    b.record('door', T0, 100, 10);
    b.locks.acquire('INC-4', 'till1', T0, T0 + HOUR);
    b.policy.quotaBytes = 800 * KB;
    b.clock.set(T0 + HOUR);
    const out = b.retention.run();
    expect(out.lockedBytes).toBe(1000 * KB);
    expect(out.overQuotaCameras).toEqual(['till1']);
    expect(b.alive('till1')).toHaveLength(100);
    expect(b.alive('door')).toHaveLength(0); // unlocked footage goes first, all of it
    const alarms = new AlarmsRepo(b.db, b.clock);
    expect(alarms.active(LOCKED_OVER_QUOTA)).toEqual([expect.objectContaining({ subject: 'till1', message: expect.stringMatching(/recording stopped: evidence-locked footage .* fills the buffer quota/) })]);
    b.retention.run();
    expect(b.audit.find({ action: 'alarm.raised' })).toHaveLength(1); // raised once, not every run
    b.locks.releaseAll('INC-4');
    const after = b.retention.run();
    expect(after.overQuotaCameras).toEqual([]);
    expect(alarms.active(LOCKED_OVER_QUOTA)).toEqual([]);
    expect(b.audit.find({ action: 'alarm.cleared' })).toHaveLength(1);
    expect(after.totalBytes).toBeLessThanOrEqual(800 * KB);
  });

  it('forgets gaps that ended before the buffer starts, keeps open ones', () => {
    const b = bench();
    const gaps = new GapsRepo(b.db);
    gaps.insertClosed('till1', T0, T0 + 1000, 'old');
    gaps.open('door', T0, 'still down');
    b.clock.set(T0 + 25 * HOUR);
    b.retention.run();
    expect(gaps.forCamera('till1')).toEqual([]);
    expect(gaps.forCamera('door')).toHaveLength(1);
  });
});

describe('evidence locks', () => {
  it('validates what it is given and releases by holder', () => {
    const b = bench();
    expect(() => b.locks.acquire('', 'till1', T0, T0 + 1)).toThrow(/holder/);
    expect(() => b.locks.acquire('INC 5', 'till1', T0, T0 + 1)).toThrow(/holder/);
    expect(() => b.locks.acquire('INC-5', '../x', T0, T0 + 1)).toThrow(/not a valid id/);
    expect(() => b.locks.acquire('INC-5', 'till1', T0, T0)).toThrow(/start before its end/);
    b.locks.acquire('INC-5', 'till1', T0, T0 + 1000);
    b.locks.acquire('INC-5', 'door', T0, T0 + 1000);
    b.locks.acquire('INC-6', 'door', T0 + 5000, T0 + 6000);
    expect(b.locks.isLocked('door', T0 + 999, T0 + 2000)).toBe(true);
    expect(b.locks.isLocked('door', T0 + 1000, T0 + 5000)).toBe(false);
    expect(b.locks.held().map((l) => `${l.cameraId}:${l.holder}`)).toEqual(['door:INC-5', 'door:INC-6', 'till1:INC-5']);
    expect(b.locks.releaseAll('INC-5').map((l) => l.cameraId).sort()).toEqual(['door', 'till1']);
    expect(b.locks.held('door').map((l) => l.holder)).toEqual(['INC-6']);
    expect(b.locks.releaseAll('INC-5')).toEqual([]);
  });
});
