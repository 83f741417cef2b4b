import type { Db } from '../db.js';
import { statement } from '../statements.js';
import { SEGMENT_IS_LOCKED } from './evidence-locks.js';

/**
 * One closed piece of a camera's rolling buffer: an MPEG-TS file that starts on a keyframe.
 * `path` is relative to the buffer folder; times are wall-clock UTC milliseconds (see recorder/wall-anchor.ts).
 */
export interface Segment {
  id: number;
  cameraId: string;
  path: string;
  startUtcMs: number;
  endUtcMs: number;
  bytes: number;
  runId: string;
  /** Salvaged after ffmpeg was killed mid-segment: readable, but its end is where the data stops. */
  recovered: boolean;
}

export type NewSegment = Omit<Segment, 'id'>;

/** A segments table row as SQLite returns it. */
export interface SegmentRow {
  id: number;
  camera_id: string;
  path: string;
  start_utc_ms: number;
  end_utc_ms: number;
  bytes: number;
  run_id: string;
  recovered: number;
}

const COLUMNS = 'id, camera_id, path, start_utc_ms, end_utc_ms, bytes, run_id, recovered';

export function segmentFromRow(r: SegmentRow): Segment {
  return { id: r.id, cameraId: r.camera_id, path: r.path, startUtcMs: r.start_utc_ms, endUtcMs: r.end_utc_ms, bytes: r.bytes, runId: r.run_id, recovered: r.recovered === 1 };
}

export interface CameraBufferSummary {
  cameraId: string;
  segments: number;
  bytes: number;
  /** Sum of segment durations: what is really on disk, gaps excluded. */
  recordedMs: number;
  oldestStartUtcMs: number;
  newestEndUtcMs: number;
}

/**
 * The segment index. Incident extraction reads it (`overlapping`, `newestEnd`); only the recorder and retention
 * write it. A camera's segments from one ffmpeg run are contiguous (each starts where the previous ended);
 * between runs there is a gap row (see GapsRepo).
 */
export class SegmentsRepo {
  constructor(private readonly db: Db) {}

  insert(s: NewSegment): Segment {
    const r = this.db
      .prepare('INSERT INTO segments (camera_id, path, start_utc_ms, end_utc_ms, bytes, run_id, recovered) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(s.cameraId, s.path, Math.round(s.startUtcMs), Math.round(s.endUtcMs), s.bytes, s.runId, s.recovered ? 1 : 0);
    return { ...s, startUtcMs: Math.round(s.startUtcMs), endUtcMs: Math.round(s.endUtcMs), id: Number(r.lastInsertRowid) };
  }

  /** Segments of a camera that overlap [fromUtcMs, toUtcMs), ordered by start. */
  overlapping(cameraId: string, fromUtcMs: number, toUtcMs: number): Segment[] {
    const rows = this.db
      .prepare(`SELECT ${COLUMNS} FROM segments WHERE camera_id = ? AND start_utc_ms < ? AND end_utc_ms > ? ORDER BY start_utc_ms`)
      .all(cameraId, toUtcMs, fromUtcMs) as SegmentRow[];
    return rows.map(segmentFromRow);
  }

  /** The newest closed segment of a camera (an incident whose window ends later waits until this passes it). */
  newest(cameraId: string): Segment | undefined {
    const r = statement(this.db, `SELECT ${COLUMNS} FROM segments WHERE camera_id = ? ORDER BY end_utc_ms DESC LIMIT 1`).get(cameraId) as SegmentRow | undefined;
    return r && segmentFromRow(r);
  }

  /**
   * End time of the newest indexed segment of a camera, or undefined when it has none. An incident whose window
   * ends later waits until this passes its end (or a gap covers the rest). Segments are indexed as they close,
   * except the first few of each ffmpeg run, held back (at most 5) until the run's wall-clock anchor settles.
   */
  newestEnd(cameraId: string): number | undefined {
    return this.newest(cameraId)?.endUtcMs;
  }

  /** Start of the oldest segment a camera still has in the buffer, or undefined when it has none. */
  oldestStart(cameraId: string): number | undefined {
    return (statement(this.db, 'SELECT MIN(start_utc_ms) FROM segments WHERE camera_id = ?').pluck().get(cameraId) as number | null) ?? undefined;
  }

  /** The same for every camera at once. */
  newestEndByCamera(): Map<string, number> {
    const rows = statement(this.db, 'SELECT camera_id, MAX(end_utc_ms) AS e FROM segments GROUP BY camera_id').all() as { camera_id: string; e: number }[];
    return new Map(rows.map((r) => [r.camera_id, r.e]));
  }

  newestOfRun(runId: string): Segment | undefined {
    const r = statement(this.db, `SELECT ${COLUMNS} FROM segments WHERE run_id = ? ORDER BY end_utc_ms DESC LIMIT 1`).get(runId) as SegmentRow | undefined;
    return r && segmentFromRow(r);
  }

  byPath(path: string): Segment | undefined {
    const r = statement(this.db, `SELECT ${COLUMNS} FROM segments WHERE path = ?`).get(path) as SegmentRow | undefined;
    return r && segmentFromRow(r);
  }

  pathsOfCamera(cameraId: string): Set<string> {
    const rows = statement(this.db, 'SELECT path FROM segments WHERE camera_id = ?').pluck().all(cameraId) as string[];
    return new Set(rows);
  }

  forCamera(cameraId: string): Segment[] {
    return (statement(this.db, `SELECT ${COLUMNS} FROM segments WHERE camera_id = ? ORDER BY start_utc_ms`).all(cameraId) as SegmentRow[]).map(segmentFromRow);
  }

  summary(): CameraBufferSummary[] {
    const rows = this.db
      .prepare(
        `SELECT camera_id, COUNT(*) AS n, SUM(bytes) AS bytes, SUM(end_utc_ms - start_utc_ms) AS ms,
                MIN(start_utc_ms) AS oldest, MAX(end_utc_ms) AS newest
         FROM segments GROUP BY camera_id ORDER BY camera_id`,
      )
      .all() as { camera_id: string; n: number; bytes: number; ms: number; oldest: number; newest: number }[];
    return rows.map((r) => ({ cameraId: r.camera_id, segments: r.n, bytes: r.bytes, recordedMs: r.ms, oldestStartUtcMs: r.oldest, newestEndUtcMs: r.newest }));
  }

  /**
   * End of the newest segment of a camera that holds footage, or null when it has none. A zero-byte segment
   * (a run that died before its first frame) is indexed but holds nothing.
   */
  newestFootageEnd(cameraId: string): number | null {
    return (statement(this.db, 'SELECT MAX(end_utc_ms) FROM segments WHERE camera_id = ? AND bytes > 0').pluck().get(cameraId) as number | null) ?? null;
  }

  /** Start of the oldest segment of a camera that holds footage, or null when it has none. */
  oldestFootageStart(cameraId: string): number | null {
    return (statement(this.db, 'SELECT MIN(start_utc_ms) FROM segments WHERE camera_id = ? AND bytes > 0').pluck().get(cameraId) as number | null) ?? null;
  }

  /** Up to `limit` segments that ended by `endedBy` and no held evidence lock covers, oldest first: what retention may delete. */
  unlockedEndedBy(endedBy: number, limit: number): Segment[] {
    const rows = statement(this.db, `SELECT ${COLUMNS} FROM segments s WHERE s.end_utc_ms <= ? AND NOT ${SEGMENT_IS_LOCKED} ORDER BY s.start_utc_ms, s.id LIMIT ?`).all(endedBy, limit) as SegmentRow[];
    return rows.map(segmentFromRow);
  }

  /** Bytes of each camera's segments that a held evidence lock covers (cameras with none are left out). */
  lockedBytesByCamera(): { cameraId: string; bytes: number }[] {
    const rows = statement(this.db, `SELECT s.camera_id AS camera, SUM(s.bytes) AS bytes FROM segments s WHERE ${SEGMENT_IS_LOCKED} GROUP BY s.camera_id`).all() as { camera: string; bytes: number }[];
    return rows.map((r) => ({ cameraId: r.camera, bytes: r.bytes }));
  }

  totalBytes(): number {
    return (statement(this.db, 'SELECT COALESCE(SUM(bytes), 0) FROM segments').pluck().get() as number) ?? 0;
  }

  deleteIds(ids: readonly number[]): void {
    const stmt = statement(this.db, 'DELETE FROM segments WHERE id = ?');
    for (const id of ids) stmt.run(id);
  }
}
