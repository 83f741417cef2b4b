import type { Db } from '../db.js';
import { statement } from '../statements.js';

/** A period in which a camera was not recorded. `endUtcMs` is null while it is still going on. */
export interface Gap {
  id: number;
  cameraId: string;
  startUtcMs: number;
  endUtcMs: number | null;
  reason: string;
}

interface Row {
  id: number;
  camera_id: string;
  start_utc_ms: number;
  end_utc_ms: number | null;
  reason: string;
}

const COLUMNS = 'id, camera_id, start_utc_ms, end_utc_ms, reason';
const fromRow = (r: Row): Gap => ({ id: r.id, cameraId: r.camera_id, startUtcMs: r.start_utc_ms, endUtcMs: r.end_utc_ms, reason: r.reason });

export class GapsRepo {
  constructor(private readonly db: Db) {}

  /** The camera's gap that is still open, if any (there is at most one). */
  openGap(cameraId: string): Gap | undefined {
    const r = statement(this.db, `SELECT ${COLUMNS} FROM gaps WHERE camera_id = ? AND end_utc_ms IS NULL`).get(cameraId) as Row | undefined;
    return r && fromRow(r);
  }

  /** Open a gap unless one is open already (then that one is returned: an outage is one gap, however many retries). */
  open(cameraId: string, startUtcMs: number, reason: string): Gap {
    const existing = this.openGap(cameraId);
    if (existing) return existing;
    const r = statement(this.db, 'INSERT INTO gaps (camera_id, start_utc_ms, reason) VALUES (?, ?, ?)').run(cameraId, Math.round(startUtcMs), reason);
    return { id: Number(r.lastInsertRowid), cameraId, startUtcMs: Math.round(startUtcMs), endUtcMs: null, reason };
  }

  /** Close the open gap at `endUtcMs` (never before its start). */
  close(cameraId: string, endUtcMs: number): Gap | undefined {
    const open = this.openGap(cameraId);
    if (!open) return undefined;
    const end = Math.max(open.startUtcMs, Math.round(endUtcMs));
    statement(this.db, 'UPDATE gaps SET end_utc_ms = ? WHERE id = ?').run(end, open.id);
    return { ...open, endUtcMs: end };
  }

  insertClosed(cameraId: string, startUtcMs: number, endUtcMs: number, reason: string): Gap {
    const r = statement(this.db, 'INSERT INTO gaps (camera_id, start_utc_ms, end_utc_ms, reason) VALUES (?, ?, ?, ?)').run(cameraId, Math.round(startUtcMs), Math.round(endUtcMs), reason);
    return { id: Number(r.lastInsertRowid), cameraId, startUtcMs: Math.round(startUtcMs), endUtcMs: Math.round(endUtcMs), reason };
  }

  /** Gaps of a camera overlapping [fromUtcMs, toUtcMs), ordered by start; an open gap extends to the future. */
  overlapping(cameraId: string, fromUtcMs: number, toUtcMs: number): Gap[] {
    const rows = this.db
      .prepare(`SELECT ${COLUMNS} FROM gaps WHERE camera_id = ? AND start_utc_ms < ? AND (end_utc_ms IS NULL OR end_utc_ms > ?) ORDER BY start_utc_ms`)
      .all(cameraId, toUtcMs, fromUtcMs) as Row[];
    return rows.map(fromRow);
  }

  forCamera(cameraId: string): Gap[] {
    return (statement(this.db, `SELECT ${COLUMNS} FROM gaps WHERE camera_id = ? ORDER BY start_utc_ms`).all(cameraId) as Row[]).map(fromRow);
  }

  /** Closed gaps that ended before `cutoffUtcMs` describe footage that no longer exists. */
  deleteEndedBefore(cutoffUtcMs: number): number {
    return statement(this.db, 'DELETE FROM gaps WHERE end_utc_ms IS NOT NULL AND end_utc_ms < ?').run(cutoffUtcMs).changes;
  }
}
