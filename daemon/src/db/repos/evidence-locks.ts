import type { Clock } from '../../util/clock.js';
import { HindsightError } from '../../util/errors.js';
import { assertSafeId, newId } from '../../util/ids.js';
import type { Db } from '../db.js';
import { statement } from '../statements.js';

/**
 * An evidence lock: a time range of one camera that retention and quota must not delete. It is a range, not a
 * list of segments, so footage recorded after the lock was taken (a window that ends in the future) is covered too.
 */
export interface EvidenceLock {
  id: string;
  holder: string;
  cameraId: string;
  fromUtcMs: number;
  toUtcMs: number;
  createdUtcMs: number;
  releasedUtcMs: number | null;
}

interface Row {
  id: string;
  holder: string;
  camera_id: string;
  from_utc_ms: number;
  to_utc_ms: number;
  created_utc_ms: number;
  released_utc_ms: number | null;
}

const COLUMNS = 'id, holder, camera_id, from_utc_ms, to_utc_ms, created_utc_ms, released_utc_ms';
const fromRow = (r: Row): EvidenceLock => ({
  id: r.id,
  holder: r.holder,
  cameraId: r.camera_id,
  fromUtcMs: r.from_utc_ms,
  toUtcMs: r.to_utc_ms,
  createdUtcMs: r.created_utc_ms,
  releasedUtcMs: r.released_utc_ms,
});

const HOLDER = /^[\x21-\x7e]{1,128}$/;

/**
 * Evidence locks. Methods are synchronous and take no transaction of their own: call them inside the caller's
 * `db.transaction` together with the caller's audit row (an incident locks its window in the same transaction
 * that records it).
 */
export class EvidenceLocks {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  /** Hold [fromUtcMs, toUtcMs) of a camera for `holder` (e.g. an incident id). */
  acquire(holder: string, cameraId: string, fromUtcMs: number, toUtcMs: number): EvidenceLock {
    if (!HOLDER.test(holder)) {
      throw new HindsightError(`lock holder ${JSON.stringify(holder.slice(0, 40))} is not valid`, { code: 'bad_holder', hint: 'a holder is 1-128 printable characters without spaces, e.g. an incident id' });
    }
    assertSafeId(cameraId, 'camera id');
    if (!Number.isFinite(fromUtcMs) || !Number.isFinite(toUtcMs) || toUtcMs <= fromUtcMs) {
      throw new HindsightError('a lock needs a start before its end', { code: 'bad_window', hint: 'give --from earlier than --to' });
    }
    const lock: EvidenceLock = { id: newId(), holder, cameraId, fromUtcMs: Math.floor(fromUtcMs), toUtcMs: Math.ceil(toUtcMs), createdUtcMs: this.clock.now(), releasedUtcMs: null };
    this.db
      .prepare(`INSERT INTO evidence_locks (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, NULL)`)
      .run(lock.id, lock.holder, lock.cameraId, lock.fromUtcMs, lock.toUtcMs, lock.createdUtcMs);
    return lock;
  }

  /** Release every lock of a holder; returns the locks released. */
  releaseAll(holder: string): EvidenceLock[] {
    const held = statement(this.db, `SELECT ${COLUMNS} FROM evidence_locks WHERE holder = ? AND released_utc_ms IS NULL`).all(holder) as Row[];
    const now = this.clock.now();
    statement(this.db, 'UPDATE evidence_locks SET released_utc_ms = ? WHERE holder = ? AND released_utc_ms IS NULL').run(now, holder);
    return held.map((r) => ({ ...fromRow(r), releasedUtcMs: now }));
  }

  /** Locks still held, optionally of one camera. */
  held(cameraId?: string): EvidenceLock[] {
    const rows = cameraId
      ? statement(this.db, `SELECT ${COLUMNS} FROM evidence_locks WHERE released_utc_ms IS NULL AND camera_id = ? ORDER BY from_utc_ms`).all(cameraId)
      : statement(this.db, `SELECT ${COLUMNS} FROM evidence_locks WHERE released_utc_ms IS NULL ORDER BY camera_id, from_utc_ms`).all();
    return (rows as Row[]).map(fromRow);
  }

  /** Whether any held lock overlaps [fromUtcMs, toUtcMs) of the camera. */
  isLocked(cameraId: string, fromUtcMs: number, toUtcMs: number): boolean {
    return (
      this.db
        .prepare('SELECT 1 FROM evidence_locks WHERE released_utc_ms IS NULL AND camera_id = ? AND from_utc_ms < ? AND to_utc_ms > ? LIMIT 1')
        .get(cameraId, toUtcMs, fromUtcMs) !== undefined
    );
  }
}

/**
 * SQL condition true when segment alias `s` overlaps a held lock: the one definition retention and quota use.
 * A lock [from, to) covers a segment [start, end) when from < end and to > start.
 */
export const SEGMENT_IS_LOCKED = `EXISTS (SELECT 1 FROM evidence_locks l
  WHERE l.released_utc_ms IS NULL AND l.camera_id = s.camera_id AND l.from_utc_ms < s.end_utc_ms AND l.to_utc_ms > s.start_utc_ms)`;
