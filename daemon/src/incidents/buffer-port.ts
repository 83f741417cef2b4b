/**
 * What incidents need from the camera ring buffer, as a small interface: the segment index, the
 * recorded gaps, and evidence locks. The recorder implements it (recorder/ owns those tables);
 * incidents never touch the buffer's tables directly.
 */
export interface SegmentRef {
  id: number;
  cameraId: string;
  /** Absolute path of the MPEG-TS segment file. */
  file: string;
  startMs: number;
  endMs: number;
  bytes: number;
  runId: string;
}

export interface GapRef {
  cameraId: string;
  startMs: number;
  /** null while the outage is still going on. */
  endMs: number | null;
  reason: string;
}

export interface BufferIndex {
  /** Closed segments of a camera that overlap [fromMs, toMs), ordered by start; empty (zero-byte) ones are not footage and are left out. */
  segmentsOverlapping(cameraId: string, fromMs: number, toMs: number): SegmentRef[];
  /** Recorded outages of a camera overlapping [fromMs, toMs). */
  gapsOverlapping(cameraId: string, fromMs: number, toMs: number): GapRef[];
  /** End of the newest closed segment with footage of the camera, or null when it has none. */
  newestSegmentEnd(cameraId: string): number | null;
  /** Start of the oldest segment with footage still in the buffer, or null when it has none. */
  oldestSegmentStart(cameraId: string): number | null;
  /**
   * Why a camera has no footage in [fromMs, toMs), in plain words for the person who must act: the
   * recorded outage and its reason, a camera that never recorded, or footage already deleted.
   */
  whyNoFootage(cameraId: string, fromMs: number, toMs: number): string;
  /**
   * Why a camera can give no footage at all, or null when it can: it has never recorded a frame (no
   * segment with footage, zero-byte ones do not count) and is not recording now.
   */
  whyNeverRecorded(cameraId: string): string | null;
}

export interface CameraDirectory {
  /** Ids of every known camera, enabled or not (an incident may cover a camera that stopped). */
  allCameraIds(): string[];
  enabledCameraIds(): string[];
  camerasInZone(zone: string): string[];
}

export interface EvidenceLocker {
  /** Hold [fromMs, toMs) of a camera's footage for `holder`; call inside the caller's transaction. */
  acquire(holder: string, cameraId: string, fromMs: number, toMs: number): void;
  /** Release every lock `holder` has; call inside the caller's transaction. */
  releaseAll(holder: string): void;
}
