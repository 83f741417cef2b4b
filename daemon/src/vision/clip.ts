import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { sha256 } from '../util/hash.js';
import { searchRegion } from './detector.js';
import { embedRecord, findFaces, verifyRecord } from './faces.js';
import { decodeFrames, type DecodeOutcome, type VideoInfo } from './frame-source.js';
import { Pyramid } from './image.js';
import { MotionGate } from './motion.js';
import { encodeJpeg, encodePng } from './image-file.js';
import type { FaceModels } from './models.js';
import type { VisionOptions } from './options.js';
import type { ClipInput, FaceCrop, HashedFile } from './result.js';
import { emptyTimings, roundTimings, timed, type StageTimings } from './timings.js';
import { CameraTracker, type CropCandidate, type Track } from './tracker.js';

/** A kept face of a finished track, its files already written (in the working folder). */
export type CandidateOut = Omit<FaceCrop, 'camera_id' | 'clip_file' | 'time_utc'> & { context?: HashedFile };

/** A finished track as it leaves the clip analyser (plain data: crosses the worker boundary). */
export interface TrackOut {
  camera_id: string;
  clip_file: string;
  clip_start_utc_ms: number;
  /** "<segment>.<track>", unique within the clip. */
  track_id: string;
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

/** A stretch of one camera's clip analysed as one job (long clips are cut so the cores share them). */
export interface Segment {
  clip: ClipInput;
  clipIndex: number;
  index: number;
  info: VideoInfo;
  startS: number;
  /** Seconds analysed; undefined = to the end of the clip. */
  durationS: number | undefined;
}

/** What one segment gives: counts for the clip's summary and its finished tracks. */
export interface SegmentOutcome {
  frames: number;
  detected: number;
  accepted: number;
  rejected: Record<string, number>;
  warnings: string[];
  timings: StageTimings;
  wallMs: number;
  tracks: TrackOut[];
}

export interface ClipProgress {
  cameraId: string;
  framesDone: number;
  framesTotal: number;
}

/**
 * Analyse one segment of a camera's clip: decode at `fps`, find faces (whole frame + tiles every
 * `fullScanEvery` frames, else only a window around each tracked face), track them, keep each track's
 * best K crops and write their files into `workDir` (names are server-made: clip, segment, track, rank).
 * `onProgress` gets the frames done in this segment.
 */
export async function analyseSegment(models: FaceModels, seg: Segment, options: VisionOptions, workDir: string, onProgress: (framesDone: number) => void, signal?: AbortSignal): Promise<SegmentOutcome> {
  const t0 = performance.now();
  const timings = emptyTimings();
  const { info } = seg;
  const decode: DecodeOutcome = { warnings: [] };
  const finder = { detector: options.detector, gate: options.gate };
  const tracker = new CameraTracker(options.tracker, options.crops, (face) => embedRecord(models, face, options.gate, timings));
  const motion = new MotionGate(options.motionThreshold, options.rescanEvery);
  const out: SegmentOutcome = { frames: 0, detected: 0, accepted: 0, rejected: {}, warnings: decode.warnings, timings, wallMs: 0, tracks: [] };
  mkdirSync(workDir, { recursive: true });
  const finish = async (ended: Track[]): Promise<void> => {
    for (const t of ended) {
      const track = await finishTrack(t, seg, models, options, workDir, timings);
      if (track) out.tracks.push(track);
    }
  };
  // frame numbers count from the start of the clip, so full scans keep their rhythm across segments
  const first = Math.round(seg.startS * options.fps);
  // the cores are shared between the workers' decoders and models: one decoder thread per spare core
  const threads = Math.max(1, Math.floor(availableParallelism() / options.workers));
  const frames = decodeFrames(options.ffmpeg, seg.clip.file, info, options.fps, decode, { startS: seg.startS, durationS: seg.durationS }, signal, threads);
  for (;;) {
    const next = await timed(timings, 'decode_wait_ms', () => frames.next());
    if (next.done) break;
    const index = first + next.value.index;
    const timeMs = (index * 1000) / options.fps;
    const image = next.value.image;
    const pyramid = new Pyramid(image);
    const full = index % options.fullScanEvery === 0 || next.value.index === 0;
    const predicted = tracker.liveTracks().map((t) => t.predict(index));
    const searchWindows = full ? [] : predicted.map((b) => searchRegion(b, info.width, info.height));
    const tileFilter = full ? motion.tileFilter(pyramid, predicted) : undefined;
    const faces = await findFaces(models, pyramid, finder, { searchWindows, fullScan: full, tileFilter, jitter: false, timings });
    out.detected += faces.length;
    for (const f of faces) {
      if (f.accepted) out.accepted++;
      else out.rejected[f.reason] = (out.rejected[f.reason] ?? 0) + 1;
    }
    await finish(await timed(timings, 'track_ms', () => tracker.update(index, timeMs, faces, image)));
    onProgress(++out.frames);
  }
  await finish(tracker.finishAll());
  out.timings = roundTimings(timings);
  out.wallMs = Math.round(performance.now() - t0);
  return out;
}

/**
 * Close a track: embed its kept faces (re-gating them on the feature norm), drop it when too few
 * accepted faces remain, and write the crop files of what is kept.
 */
async function finishTrack(t: Track, seg: Segment, models: FaceModels, options: VisionOptions, workDir: string, timings: StageTimings): Promise<TrackOut | undefined> {
  const { clip } = seg;
  const kept: CropCandidate[] = [];
  for (const c of t.candidates) {
    if (kept.length === options.crops.bestK) break;
    if (!(await verifyRecord(models, c.crop, c.cropOrigin, c.face, options.gate, timings))) continue;
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
    const base = `c${seg.clipIndex}-s${seg.index}-t${t.id}-${k + 1}`;
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
    track_id: `${seg.index + 1}.${t.id}`,
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
