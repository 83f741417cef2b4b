import path from 'node:path';
import type { Db } from '../db/db.js';
import { CameraStatusRepo } from '../db/repos/camera-status.js';
import { CamerasRepo } from '../db/repos/cameras.js';
import { EvidenceLocks } from '../db/repos/evidence-locks.js';
import { GapsRepo } from '../db/repos/gaps.js';
import { SegmentsRepo } from '../db/repos/segments.js';
import type { Clock } from '../util/clock.js';
import type { BufferIndex, CameraDirectory, EvidenceLocker, GapRef, SegmentRef } from './buffer-port.js';

/** The ring buffer as incidents see it: the recorder's segment index, gaps, cameras and locks. */
export class RecorderBuffer implements BufferIndex, CameraDirectory, EvidenceLocker {
  private readonly segments: SegmentsRepo;
  private readonly gaps: GapsRepo;
  private readonly cameras: CamerasRepo;
  private readonly locks: EvidenceLocks;
  private readonly status: CameraStatusRepo;

  constructor(
    db: Db,
    clock: Clock,
    private readonly bufferDir: string,
  ) {
    this.segments = new SegmentsRepo(db);
    this.gaps = new GapsRepo(db);
    this.cameras = new CamerasRepo(db);
    this.locks = new EvidenceLocks(db, clock);
    this.status = new CameraStatusRepo(db);
  }

  segmentsOverlapping(cameraId: string, fromMs: number, toMs: number): SegmentRef[] {
    // a zero-byte segment (a run that died before its first frame) is indexed but holds no footage
    return this.segments.overlapping(cameraId, fromMs, toMs).filter((s) => s.bytes > 0).map((s) => ({
      id: s.id,
      cameraId: s.cameraId,
      file: path.join(this.bufferDir, s.path),
      startMs: s.startUtcMs,
      endMs: s.endUtcMs,
      bytes: s.bytes,
      runId: s.runId,
    }));
  }

  gapsOverlapping(cameraId: string, fromMs: number, toMs: number): GapRef[] {
    return this.gaps.overlapping(cameraId, fromMs, toMs).map((g) => ({ cameraId: g.cameraId, startMs: g.startUtcMs, endMs: g.endUtcMs, reason: g.reason }));
  }

  newestSegmentEnd(cameraId: string): number | null {
    return this.segments.newestFootageEnd(cameraId);
  }

  oldestSegmentStart(cameraId: string): number | null {
    return this.segments.oldestFootageStart(cameraId);
  }

  whyNeverRecorded(cameraId: string): string | null {
    if (this.oldestSegmentStart(cameraId) !== null) return null;
    if (this.status.get(cameraId)?.state === 'recording') return null; // its first segment is on its way
    return `camera ${cameraId} has never recorded a frame (${this.stateNow(cameraId) ?? 'the recorder has not started it'})`;
  }

  /** "it is failing: connection refused", or undefined when the recorder has no state for the camera. */
  private stateNow(cameraId: string): string | undefined {
    const now = this.status.get(cameraId);
    return now && `it is ${now.state}${now.reason ? `: ${now.reason}` : ''}`;
  }

  whyNoFootage(cameraId: string, fromMs: number, toMs: number): string {
    const outage = this.gaps.overlapping(cameraId, fromMs, toMs)[0];
    if (outage) return `camera ${cameraId} recorded nothing in that window: it was failing: ${outage.reason}`;
    const oldest = this.oldestSegmentStart(cameraId);
    if (oldest === null) {
      const state = this.stateNow(cameraId);
      return `camera ${cameraId} has not recorded any footage yet${state ? `; ${state}` : ''}`;
    }
    if (toMs <= oldest) return `camera ${cameraId}'s footage of that window is no longer in the rolling buffer (its oldest footage starts ${new Date(oldest).toISOString()})`;
    return `camera ${cameraId} recorded nothing in that window`;
  }

  allCameraIds(): string[] {
    return this.cameras.list().map((c) => c.id);
  }

  enabledCameraIds(): string[] {
    return this.cameras
      .list()
      .filter((c) => c.enabled)
      .map((c) => c.id);
  }

  camerasInZone(zone: string): string[] {
    return this.cameras
      .list()
      .filter((c) => c.zone === zone)
      .map((c) => c.id);
  }

  acquire(holder: string, cameraId: string, fromMs: number, toMs: number): void {
    this.locks.acquire(holder, cameraId, fromMs, toMs);
  }

  releaseAll(holder: string): void {
    this.locks.releaseAll(holder);
  }
}
