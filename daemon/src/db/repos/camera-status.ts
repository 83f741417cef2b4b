import type { Db } from '../db.js';
import { statement } from '../statements.js';

/** `undecodable`: recording goes on, but the video the camera sends does not decode. */
export type RecorderState = 'recording' | 'undecodable' | 'reconnecting' | 'failed' | 'disabled';

/** What the running recorder says about one camera; read by the CLI and the UI from other processes. */
export interface CameraStatus {
  cameraId: string;
  state: RecorderState;
  /** Why it is not recording, in plain words (never credentials). */
  reason: string | null;
  sinceUtcMs: number;
  fps: number | null;
  bitrateKbps: number | null;
  lastSegmentEndUtcMs: number | null;
  /** ffmpeg processes started for this camera since the daemon started. */
  spawns: number;
  bootId: string;
  updatedUtcMs: number;
}

interface Row {
  camera_id: string;
  state: RecorderState;
  reason: string | null;
  since_utc_ms: number;
  fps: number | null;
  bitrate_kbps: number | null;
  last_segment_end_utc_ms: number | null;
  spawns: number;
  boot_id: string;
  updated_utc_ms: number;
}

const fromRow = (r: Row): CameraStatus => ({
  cameraId: r.camera_id,
  state: r.state,
  reason: r.reason,
  sinceUtcMs: r.since_utc_ms,
  fps: r.fps,
  bitrateKbps: r.bitrate_kbps,
  lastSegmentEndUtcMs: r.last_segment_end_utc_ms,
  spawns: r.spawns,
  bootId: r.boot_id,
  updatedUtcMs: r.updated_utc_ms,
});

/** A recording camera whose video does not decode reads as `undecodable`. */
const SELECT = `SELECT s.camera_id, CASE WHEN s.state = 'recording' AND v.video = 'undecodable' THEN 'undecodable' ELSE s.state END AS state,
  s.reason, s.since_utc_ms, s.fps, s.bitrate_kbps, s.last_segment_end_utc_ms, s.spawns, s.boot_id, s.updated_utc_ms
  FROM camera_status s LEFT JOIN camera_states v ON v.camera_id = s.camera_id`;

export class CameraStatusRepo {
  constructor(private readonly db: Db) {}

  /**
   * `undecodable` is stored as `recording` plus the video verdict in camera_states (migration 007), so the
   * state reads back as written.
   */
  put(s: CameraStatus): void {
    const undecodable = s.state === 'undecodable';
    if (undecodable) statement(this.db, "INSERT INTO camera_states (camera_id, video, since_utc_ms) VALUES (?, 'undecodable', ?) ON CONFLICT(camera_id) DO UPDATE SET video = excluded.video, since_utc_ms = excluded.since_utc_ms WHERE video <> excluded.video").run(s.cameraId, s.sinceUtcMs);
    else if (s.state === 'recording') statement(this.db, "DELETE FROM camera_states WHERE camera_id = ?").run(s.cameraId);
    this.db
      .prepare(
        `INSERT INTO camera_status (camera_id, state, reason, since_utc_ms, fps, bitrate_kbps, last_segment_end_utc_ms, spawns, boot_id, updated_utc_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(camera_id) DO UPDATE SET state = excluded.state, reason = excluded.reason, since_utc_ms = excluded.since_utc_ms,
           fps = excluded.fps, bitrate_kbps = excluded.bitrate_kbps, last_segment_end_utc_ms = excluded.last_segment_end_utc_ms,
           spawns = excluded.spawns, boot_id = excluded.boot_id, updated_utc_ms = excluded.updated_utc_ms`,
      )
      .run(s.cameraId, undecodable ? 'recording' : s.state, s.reason, s.sinceUtcMs, s.fps, s.bitrateKbps, s.lastSegmentEndUtcMs, s.spawns, s.bootId, s.updatedUtcMs);
  }

  get(cameraId: string): CameraStatus | undefined {
    const r = statement(this.db, `${SELECT} WHERE s.camera_id = ?`).get(cameraId) as Row | undefined;
    return r && fromRow(r);
  }

  all(): CameraStatus[] {
    return (statement(this.db, `${SELECT} ORDER BY s.camera_id`).all() as Row[]).map(fromRow);
  }

  remove(cameraId: string): void {
    statement(this.db, 'DELETE FROM camera_status WHERE camera_id = ?').run(cameraId);
    statement(this.db, 'DELETE FROM camera_states WHERE camera_id = ?').run(cameraId);
  }
}
