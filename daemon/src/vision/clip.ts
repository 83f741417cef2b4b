import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sha256 } from '../util/hash.js';
import { searchRegion } from './detector.js';
import { embedRecord, findFaces, verifyRecord, type FaceRecord } from './faces.js';
import { followFace, type FollowTarget } from './follow.js';
import type { VideoFrame } from './frame-source.js';
import { centre, iou, type Box } from './geometry.js';
import { Pyramid, type Region } from './image.js';
import { MotionGate } from './motion.js';
import { encodeJpeg, encodePng } from './image-file.js';
import type { FaceModels } from './models.js';
import type { VisionOptions } from './options.js';
import type { ClipPiece, FaceCrop, HashedFile } from './result.js';
import type { Segment, SegmentDecode } from './segment-decode.js';
import { emptyTimings, roundTimings, timed, type StageTimings } from './timings.js';
import { CameraTracker, type CropCandidate, type Track } from './tracker.js';

/** A kept face of a finished track, its files already written (in the working folder). */
export type CandidateOut = Omit<FaceCrop, 'camera_id' | 'clip_file' | 'time_utc'> & { context?: HashedFile };

/** A finished track as it leaves the clip analyser (plain data: crosses the worker boundary). */
export interface TrackOut {
  camera_id: string;
  clip_file: string;
  clip_start_utc_ms: number;
  /** The clip's stretches (see ClipInput): times map to UTC through them. */
  clip_pieces?: ClipPiece[];
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
 * `fullScanEvery` frames, else each tracked face followed by its landmarks or looked for in a window
 * around it), track them, keep each track's best K crops and write their files into `workDir` (names
 * are server-made: clip, segment, track, rank).
 * `decode` is the segment's decoder, already started (`openSegment`). `onProgress` gets the frames done in
 * this segment.
 */
export async function analyseSegment(
  loading: FaceModels | Promise<FaceModels>,
  seg: Segment,
  decode: SegmentDecode,
  options: VisionOptions,
  workDir: string,
  onProgress: (framesDone: number) => void,
): Promise<SegmentOutcome> {
  const t0 = performance.now();
  const timings = emptyTimings();
  const { info } = seg;
  // frame numbers count from the start of the clip, so full scans keep their rhythm across segments
  const first = Math.round(seg.startS * options.fps);
  const { frames } = decode;
  // the decoder has started, while the models may still be loading (a worker's first segment)
  let pending: Promise<IteratorResult<VideoFrame>> | undefined = decode.first;
  let models: FaceModels;
  try {
    models = await loading;
  } catch (err) {
    await pending.catch(() => undefined);
    await frames.return(undefined);
    throw err;
  }
  const finder = { detector: options.detector, gate: options.gate };
  const tracker = new CameraTracker(options.tracker, options.crops, (face) => embedRecord(models, face, options.gate, timings));
  const motion = new MotionGate(options.motionThreshold, options.rescanEvery);
  const kept = new Set<VideoFrame>();
  const out: SegmentOutcome = { frames: 0, detected: 0, accepted: 0, rejected: {}, warnings: decode.outcome.warnings, timings, wallMs: 0, tracks: [] };
  mkdirSync(workDir, { recursive: true });
  const finish = async (ended: Track[]): Promise<void> => {
    for (const t of ended) {
      const track = await finishTrack(t, seg, models, options, workDir, timings);
      if (track) out.tracks.push(track);
    }
  };
  for (;;) {
    const next = await timed(timings, 'decode_wait_ms', () => pending ?? frames.next());
    pending = undefined;
    if (next.done) break;
    const index = first + next.value.index;
    const timeMs = (index * 1000) / options.fps;
    const image = next.value.image;
    const pyramid = new Pyramid(image);
    const full = index % options.fullScanEvery === 0 || next.value.index === 0;
    const live = tracker.liveTracks();
    const predicted = live.map((t) => t.predict(index));
    // between full scans each tracked face is followed by its landmarks, or else looked for in a window
    const follows = new Map<FaceRecord, Track>();
    const searchWindows: Region[] = [];
    if (!full) {
      for (const [i, track] of live.entries()) {
        const target = options.tracker.follow ? followTarget(track, i, index, predicted) : undefined;
        const face = target && (await followFace(models, pyramid, target, options.gate, options.tracker.followMaxDrift, timings));
        if (face) follows.set(face, track);
        else searchWindows.push(searchRegion(predicted[i]!, info.width, info.height));
      }
    }
    const tileFilter = full ? motion.tileFilter(pyramid, predicted) : undefined;
    const found = await findFaces(models, pyramid, finder, { searchWindows, fullScan: full, tileFilter, jitter: false, timings });
    // a window around another track may see a followed face again: the detected one is the better reference
    for (const g of follows.keys()) if (found.some((f) => iou(f.box, g.box) > options.detector.nmsIou)) follows.delete(g);
    const faces = [...found, ...follows.keys()];
    out.detected += faces.length;
    for (const f of faces) {
      if (f.accepted) out.accepted++;
      else out.rejected[f.reason] = (out.rejected[f.reason] ?? 0) + 1;
    }
    await finish(await timed(timings, 'track_ms', () => tracker.update(index, timeMs, faces, image, follows)));
    // a frame a track keeps (its best face's context) goes back to the decoder once no track keeps it: a
    // reused frame buffer costs nothing, a new one 6 MB of fresh pages (measured: 3 in 4 frames were new)
    kept.add(next.value);
    for (const frame of kept) {
      if (tracker.holdsFrame(frame.image)) continue;
      kept.delete(frame);
      frame.release();
    }
    onProgress(++out.frames);
  }
  await finish(tracker.finishAll());
  out.timings = roundTimings(timings);
  out.wallMs = Math.round(performance.now() - t0);
  return out;
}

/**
 * Centres of two tracked faces closer than this many face widths are too close to follow either: the
 * landmark model could slip onto the other face (the detector window and the tracker's checks sort them).
 */
const FOLLOW_CLEARANCE = 1.5;

/**
 * A track worth following at `frame`: seen on the previous analysed frame, with a detected box shape, and
 * no other track near enough for the landmarks to slip onto the other face.
 */
function followTarget(track: Track, i: number, frame: number, predicted: readonly Box[]): FollowTarget | undefined {
  if (!track.lastDetection || track.lastFrame !== frame - 1) return undefined;
  const p = predicted[i]!;
  const [cx, cy] = centre(p);
  for (const [j, q] of predicted.entries()) {
    if (j === i) continue;
    const [qx, qy] = centre(q);
    const size = Math.max(p[2] - p[0], p[3] - p[1], q[2] - q[0], q[3] - q[1]);
    if (Math.hypot(qx - cx, qy - cy) < FOLLOW_CLEARANCE * size) return undefined;
  }
  return { predicted: p, shape: track.lastDetection.shape, score: track.lastDetection.score };
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
    clip_pieces: clip.pieces,
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
