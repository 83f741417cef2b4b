import type { ModelId } from './models.js';
import type { FaceQuality } from './quality.js';
import type { StageTimings } from './timings.js';

/** A stretch of a clip and the UTC time it starts at: a clip cut across a recording gap jumps in time there. */
export interface ClipPiece {
  clipOffsetMs: number;
  utcStartMs: number;
}

/** One master clip to analyse: which camera, the file, and the UTC time of its first frame. */
export interface ClipInput {
  cameraId: string;
  file: string;
  clipStartUtcMs: number;
  /** The clip's stretches in order (from its extraction); absent: one stretch from `clipStartUtcMs`. */
  pieces?: ClipPiece[];
  /** Stretches (UTC) whose keyframes did not decode when the clip was cut. */
  damaged?: { startMs: number; endMs: number }[];
}

/** The UTC time of the moment `offsetMs` into a clip, counted in the stretch it falls in. */
export function clipTimeUtc(clipStartUtcMs: number, pieces: readonly ClipPiece[] | undefined, offsetMs: number): number {
  let at: ClipPiece = { clipOffsetMs: 0, utcStartMs: clipStartUtcMs };
  for (const p of pieces ?? []) {
    if (p.clipOffsetMs > offsetMs) break;
    at = p;
  }
  return at.utcStartMs + offsetMs - at.clipOffsetMs;
}

/** A file written by the analysis: path relative to the output folder, SHA-256 of its bytes. */
export interface HashedFile {
  path: string;
  sha256: string;
  bytes: number;
}

/** One chosen face of a subject: where and when it was seen, how good it is, and its files. */
export interface FaceCrop {
  camera_id: string;
  clip_file: string;
  frame_index: number;
  /** Time since the start of the clip, ms. */
  offset_ms: number;
  time_utc: string;
  box: [number, number, number, number];
  landmarks5: [number, number][];
  quality: FaceQuality;
  /** The combined quality score the crops were chosen by (higher is better). */
  rank: number;
  /** JPEG of the face with a margin, at the frame's resolution. */
  crop: HashedFile;
  /** PNG of the aligned 112x112 face the embedding was computed from. */
  aligned: HashedFile;
  /** L2-normalised 512-d embedding; absent in crops-only mode. */
  embedding?: number[];
}

/** A face followed through one camera's clip. */
export interface TrackSummary {
  camera_id: string;
  track_id: string;
  first_utc: string;
  last_utc: string;
  faces: number;
  accepted_faces: number;
  /** Largest eye distance (px) and median sharpness of the track's accepted faces. */
  max_eye_distance: number;
  median_sharpness: number;
}

/** A distinct person: tracks grouped across cameras, the best K crops, one context frame. */
export interface Subject {
  id: string;
  cameras: string[];
  first_utc: string;
  last_utc: string;
  tracks: TrackSummary[];
  crops: FaceCrop[];
  context?: HashedFile & { camera_id: string; time_utc: string };
}

export interface ClipSummary {
  camera_id: string;
  file: string;
  clip_start_utc: string;
  width: number;
  height: number;
  duration_s: number;
  /** Stretches analysed in parallel (their tracks are joined again by the subject clustering). */
  segments: number;
  frames_analysed: number;
  faces_detected: number;
  faces_accepted: number;
  /** Faces rejected by the gate, by reason. */
  rejected: Record<string, number>;
  tracks: number;
  /** ffmpeg's complaints about damaged stretches (the clip was still analysed). */
  warnings: string[];
  timings: StageTimings;
  wall_ms: number;
  /** Why the clip's video is damaged (it was still analysed as far as it decodes); absent when it decoded cleanly. */
  damaged?: string;
  /** Why the clip could not be analysed (the other fields are then zero). */
  error?: string;
}

/** What `analyseIncident` writes to <outDir>/result.json and returns. */
export interface AnalysisResult {
  format: 'hindsight-analysis/1';
  created_utc: string;
  /** crops_only: embeddings were switched off by policy; none is computed or stored. */
  mode: 'embeddings' | 'crops_only';
  fps: number;
  models: ModelId[];
  clips: ClipSummary[];
  subjects: Subject[];
  /** Stage times summed over clips (clips may run in parallel, so they can exceed wall_ms). */
  timings: StageTimings;
  wall_ms: number;
}
