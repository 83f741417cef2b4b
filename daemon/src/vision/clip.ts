import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sha256 } from '../models/manifest.js';
import { searchRegion } from './detector.js';
import { embedRecord, findFaces, verifyRecord } from './faces.js';
import { decodeFrames, probeVideo, type DecodeOutcome } from './frame-source.js';
import { Pyramid } from './image.js';
import { encodeJpeg, encodePng } from './image-file.js';
import type { FaceModels } from './models.js';
import type { VisionOptions } from './options.js';
import type { ClipInput, ClipSummary, FaceCrop, HashedFile } from './result.js';
import { emptyTimings, roundTimings, timed, type StageTimings } from './timings.js';
import { CameraTracker, type CropCandidate, type Track } from './tracker.js';
import type { FaceRecord } from './faces.js';

/** A kept face of a finished track, its files already written (in the working folder). */
export type CandidateOut = Omit<FaceCrop, 'camera_id' | 'clip_file' | 'time_utc'> & { context?: HashedFile };

/** A finished track as it leaves the clip analyser (plain data: crosses the worker boundary). */
export interface TrackOut {
  camera_id: string;
  clip_file: string;
  clip_start_utc_ms: number;
  track_id: number;
  first_ms: number;
  last_ms: number;
  faces: number;
  accepted_faces: number;
  max_eye_distance: number;
  median_sharpness: number;
  /** Normalised mean embedding of its accepted faces; absent in crops-only mode. */
  embedding?: number[];
  candidates: CandidateOut[];
}

export interface ClipOutcome {
  summary: ClipSummary;
  tracks: TrackOut[];
}

export interface ClipProgress {
  cameraId: string;
  framesDone: number;
  framesTotal: number;
}

/**
 * Analyse one camera's clip: decode at `fps`, find faces (full tile scan every `fullScanEvery` frames,
 * else whole frame + a window around each tracked face), track them, keep each track's best K crops and
 * write their files into `workDir` (names are server-made: camera index, track id, rank).
 */
export async function analyseClip(
  models: FaceModels,
  clip: ClipInput,
  clipIndex: number,
  options: VisionOptions,
  workDir: string,
  onProgress: (p: ClipProgress) => void,
  signal?: AbortSignal,
): Promise<ClipOutcome> {
  const t0 = performance.now();
  const timings = emptyTimings();
  const info = await probeVideo(options.ffprobe, clip.file, options.fps);
  const outcome: DecodeOutcome = { warnings: [] };
  const finder = { detector: options.detector, gate: options.gate };
  const tracker = new CameraTracker(options.tracker, options.crops, (face) => embedRecord(models, face, options.gate, timings));
  const tracks: TrackOut[] = [];
  const rejected: Record<string, number> = {};
  let framesDone = 0;
  let detected = 0;
  let accepted = 0;
  mkdirSync(workDir, { recursive: true });
  const finish = async (ended: Track[]): Promise<void> => {
    for (const t of ended) {
      const out = await finishTrack(t, clip, clipIndex, models, options, workDir, timings);
      if (out) tracks.push(out);
    }
  };

  const frames = decodeFrames(options.ffmpeg, clip.file, info, options.fps, outcome, signal);
  for (;;) {
    const next = await timed(timings, 'decode_wait_ms', () => frames.next());
    if (next.done) break;
    const frame = next.value;
    const pyramid = new Pyramid(frame.image);
    const full = frame.index % options.fullScanEvery === 0;
    const searchWindows = full ? [] : tracker.liveTracks().map((t) => searchRegion(t.predict(frame.index), info.width, info.height));
    const faces = await findFaces(models, pyramid, finder, { searchWindows, fullScan: full, jitter: false, timings });
    detected += faces.length;
    for (const f of faces) {
      if (f.accepted) accepted++;
      else rejected[f.reason] = (rejected[f.reason] ?? 0) + 1;
    }
    const verify = (face: FaceRecord): Promise<boolean> => verifyRecord(models, pyramid, face, options.gate, timings);
    const ended = await timed(timings, 'track_ms', () => tracker.update(frame.index, frame.timeMs, faces, frame.image, verify));
    await finish(ended);
    framesDone++;
    onProgress({ cameraId: clip.cameraId, framesDone, framesTotal: Math.max(framesDone, info.expectedFrames) });
  }
  await finish(tracker.finishAll());
  const summary: ClipSummary = {
    camera_id: clip.cameraId,
    file: clip.file,
    clip_start_utc: new Date(clip.clipStartUtcMs).toISOString(),
    width: info.width,
    height: info.height,
    duration_s: info.durationS,
    frames_analysed: framesDone,
    faces_detected: detected,
    faces_accepted: accepted,
    rejected,
    tracks: tracks.length,
    warnings: outcome.warnings,
    timings: roundTimings(timings),
    wall_ms: Math.round(performance.now() - t0),
  };
  return { summary, tracks };
}

/**
 * Close a track: embed its kept faces (re-gating them on the feature norm), drop it when too few
 * accepted faces remain, and write the crop files of what is kept.
 */
async function finishTrack(t: Track, clip: ClipInput, clipIndex: number, models: FaceModels, options: VisionOptions, workDir: string, timings: StageTimings): Promise<TrackOut | undefined> {
  const kept: CropCandidate[] = [];
  for (const c of t.candidates) {
    const wasEmbedded = c.face.embedding !== undefined;
    const e = await embedRecord(models, c.face, options.gate, timings);
    if (!c.face.accepted) continue; // the feature norm says it is not a face after all
    kept.push(c);
    if (e && !wasEmbedded) t.addEmbedding(e, c.frameIndex);
  }
  if (t.accepted < options.tracker.minFaces || kept.length === 0) return undefined;
  const identity = t.identity();
  const candidates: CandidateOut[] = [];
  for (const [k, c] of kept.entries()) {
    const base = `c${clipIndex}-t${t.id}-${k + 1}`;
    const f = c.face;
    const files = await timed(timings, 'write_ms', async () => ({
      crop: writeHashed(workDir, `${base}-crop.jpg`, await encodeJpeg(c.crop, options.crops.jpegQuality)),
      aligned: writeHashed(workDir, `${base}-aligned.png`, await encodePng(f.aligned)),
      context: c.frame ? writeHashed(workDir, `${base}-context.jpg`, await encodeJpeg(c.frame, options.crops.jpegQuality)) : undefined,
    }));
    candidates.push({
      frame_index: c.frameIndex,
      offset_ms: Math.round(c.timeMs),
      box: f.box.map((v) => Math.round(v * 10) / 10) as CandidateOut['box'],
      landmarks5: f.landmarks5.map(([x, y]) => [Math.round(x * 10) / 10, Math.round(y * 10) / 10]),
      quality: f.quality,
      rank: c.rank,
      ...files,
      embedding: f.embedding ? Array.from(f.embedding) : undefined,
    });
  }
  return {
    camera_id: clip.cameraId,
    clip_file: clip.file,
    clip_start_utc_ms: clip.clipStartUtcMs,
    track_id: t.id,
    first_ms: Math.round(t.firstTimeMs),
    last_ms: Math.round(t.lastTimeMs),
    faces: t.faces,
    accepted_faces: t.accepted,
    max_eye_distance: Math.round(t.maxEyeDistance * 10) / 10,
    median_sharpness: Math.round([...t.sharpness].sort((a, b) => a - b)[t.sharpness.length >> 1] ?? 0),
    embedding: identity ? Array.from(identity) : undefined,
    candidates,
  };
}

function writeHashed(dir: string, name: string, bytes: Buffer): HashedFile {
  const file = path.join(dir, name);
  writeFileSync(file, bytes, { mode: 0o600 });
  return { path: file, sha256: sha256(bytes), bytes: bytes.length };
}
