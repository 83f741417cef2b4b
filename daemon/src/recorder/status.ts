import type { Config } from '../config/schema.js';
import type { Db } from '../db/db.js';
import { AlarmsRepo, type Alarm } from '../db/repos/alarms.js';
import { AuditRepo } from '../db/repos/audit.js';
import { BootsRepo } from '../db/repos/boots.js';
import { CameraStatusRepo, type CameraStatus, type RecorderState } from '../db/repos/camera-status.js';
import { CamerasRepo } from '../db/repos/cameras.js';
import { EvidenceLocks, type EvidenceLock } from '../db/repos/evidence-locks.js';
import { GapsRepo, type Gap } from '../db/repos/gaps.js';
import { SegmentsRepo } from '../db/repos/segments.js';
import type { Clock } from '../util/clock.js';
import { bufferPolicy } from './retention.js';

export interface CameraBufferStatus {
  cameraId: string;
  /** null when the camera was removed but footage of it is still buffered. */
  name: string | null;
  enabled: boolean;
  /** What the running daemon last said; `unknown` when no daemon reports. */
  state: RecorderState | 'unknown';
  reason: string | null;
  hoursBuffered: number;
  bytes: number;
  segments: number;
  oldestUtcMs: number | null;
  newestEndUtcMs: number | null;
  lastSegmentAgeS: number | null;
  fps: number | null;
  bitrateKbps: number | null;
  spawns: number;
  /** Gaps inside the buffered period (closed ones) and the one still open, if any. */
  gaps: number;
  openGap: Gap | null;
  heldLocks: number;
}

export interface BufferStatus {
  daemonReporting: boolean;
  policy: { hours: number; quotaBytes: number; minFreeBytes: number };
  totalBytes: number;
  cameras: CameraBufferStatus[];
  locks: EvidenceLock[];
  alarms: Alarm[];
  /** Deletion receipts (audit rows `buffer.deleted`) written so far. */
  deletionReceipts: number;
}

/** The recorder's statuses as the running daemon keeps them (camera_status and boots only: no segment scan). */
export interface RecorderStatuses {
  statuses: Map<string, CameraStatus>;
  /** A daemon started and never said it stopped. */
  bootLive: boolean;
  /** That daemon refreshes its statuses (at least one is fresh). */
  reporting: boolean;
  /** The status is one the running daemon keeps fresh; a stale one says nothing of now (the camera's state reads `unknown`). */
  live(st: CameraStatus | undefined): st is CameraStatus;
}

export function recorderStatuses(db: Db, config: Config, clock: Clock): RecorderStatuses {
  const now = clock.now();
  const statuses = new Map(new CameraStatusRepo(db).all().map((s) => [s.cameraId, s]));
  const freshMs = Math.max(15_000, 3 * config.recorder.status_interval_s * 1000);
  const latestBoot = new BootsRepo(db).latest();
  const bootLive = latestBoot !== undefined && latestBoot.stoppedUtc === null;
  const reporting = bootLive && [...statuses.values()].some((s) => now - s.updatedUtcMs < freshMs);
  return { statuses, bootLive, reporting, live: (st): st is CameraStatus => reporting && st !== undefined && now - st.updatedUtcMs < freshMs };
}

/** A camera's state as `buffer status`, the UI and the health document show it: disabled, what the running daemon says, else unknown. */
export function cameraStateOf(camera: { enabled: boolean } | undefined, st: CameraStatus | undefined, live: boolean): RecorderState | 'unknown' {
  return camera && !camera.enabled ? 'disabled' : live && st ? st.state : 'unknown';
}

/** Per-camera buffer health for `hindsight buffer status` and the UI, read from the database only. */
export function bufferStatus(db: Db, config: Config, clock: Clock): BufferStatus {
  const now = clock.now();
  const policy = bufferPolicy(config, db);
  const cameras = new CamerasRepo(db).list();
  const recorder = recorderStatuses(db, config, clock);
  const { statuses, bootLive, reporting } = recorder;
  const summaries = new Map(new SegmentsRepo(db).summary().map((s) => [s.cameraId, s]));
  const locks = new EvidenceLocks(db, clock).held();
  const gapsRepo = new GapsRepo(db);
  // a daemon that started and never said it stopped, but whose status is stale: killed, frozen, or unable to write
  const silent = (st: { updatedUtcMs: number } | undefined): string =>
    bootLive && st
      ? `no status from the daemon for ${Math.round((now - st.updatedUtcMs) / 1000)} s: it was killed or frozen, or it cannot write to the database (see the recorder.db_write_failed alarm and its log)`
      : 'no daemon is reporting (is `hindsight run` running?)';
  const ids = [...new Set([...cameras.map((c) => c.id), ...summaries.keys()])].sort();
  const rows = ids.map((id): CameraBufferStatus => {
    const cam = cameras.find((c) => c.id === id);
    const st = statuses.get(id);
    const sum = summaries.get(id);
    const live = recorder.live(st);
    const gaps = sum ? gapsRepo.overlapping(id, sum.oldestStartUtcMs, Number.MAX_SAFE_INTEGER) : gapsRepo.overlapping(id, 0, Number.MAX_SAFE_INTEGER);
    const openGap = gaps.find((g) => g.endUtcMs === null) ?? null;
    return {
      cameraId: id,
      name: cam?.name ?? null,
      enabled: cam?.enabled ?? false,
      state: cameraStateOf(cam, st, live),
      reason: cam && !cam.enabled ? 'disabled in the camera registry' : live ? st!.reason : !cam ? 'camera removed; its footage stays until retention deletes it' : silent(st),
      hoursBuffered: sum ? sum.recordedMs / 3_600_000 : 0,
      bytes: sum?.bytes ?? 0,
      segments: sum?.segments ?? 0,
      oldestUtcMs: sum?.oldestStartUtcMs ?? null,
      newestEndUtcMs: sum?.newestEndUtcMs ?? null,
      lastSegmentAgeS: sum ? Math.max(0, (now - sum.newestEndUtcMs) / 1000) : null,
      fps: live ? st!.fps : null,
      bitrateKbps: live ? st!.bitrateKbps : null,
      spawns: st?.spawns ?? 0,
      gaps: gaps.length,
      openGap,
      heldLocks: locks.filter((l) => l.cameraId === id).length,
    };
  });
  const deletionReceipts = new AuditRepo(db).countOfAction('buffer.deleted');
  return {
    daemonReporting: reporting,
    policy: { hours: policy.retentionMs / 3_600_000, quotaBytes: policy.quotaBytes, minFreeBytes: policy.minFreeBytes },
    totalBytes: rows.reduce((n, r) => n + r.bytes, 0),
    cameras: rows,
    locks,
    alarms: new AlarmsRepo(db, clock).active(),
    deletionReceipts,
  };
}
