import { alignFace } from './align.js';
import { detectFaces, type DetectorOptions } from './detector.js';
import { embedFace } from './embedder.js';
import { gateFace, type GateOptions, type GateVerdict } from './gate.js';
import { distance, fivePoints, type Box, type Point } from './geometry.js';
import { Pyramid, type Region, type RgbImage } from './image.js';
import { landmarks68 } from './landmarks.js';
import type { FaceModels } from './models.js';
import { measureQuality, type FaceQuality } from './quality.js';
import { timed, type StageTimings } from './timings.js';

/** One face found in one image or frame, before any tracking. */
export interface FaceRecord extends GateVerdict {
  box: Box;
  score: number;
  landmarks5: Point[];
  quality: FaceQuality;
  /** The face warped onto the 112x112 template (RGB). */
  aligned: RgbImage;
  /** L2-normalised, when computed. */
  embedding?: Float32Array;
}

export interface FaceFinderOptions {
  detector: DetectorOptions;
  gate: GateOptions;
}

/**
 * Everything about the faces of one image: detection (whole frame + tiles + optional search windows),
 * landmarks, alignment, quality and the gate. Embeddings are added by the caller (`embedRecord`) because
 * the video pipeline only embeds the faces it needs. This is the one code path for photos and video.
 */
export interface FindOptions {
  /** Extra detector windows (around tracked faces). */
  searchWindows?: Region[];
  /**
   * Run the whole-frame and tile passes (default true). Between full scans video looks only in the search
   * windows around tracked faces: a new face is found at the next full scan, a tracked one every frame.
   */
  fullScan?: boolean;
  /** Tiles of the full scan to run (default all); video skips still parts of the scene. */
  tileFilter?: (r: Region) => boolean;
  /**
   * Measure the landmark jitter now (default true). Video leaves it to `verifyRecord`, called only for the
   * faces finally kept: it costs 4 extra landmark runs per face.
   */
  jitter?: boolean;
  timings?: StageTimings;
}

export async function findFaces(models: FaceModels, pyramid: Pyramid, options: FaceFinderOptions, find: FindOptions = {}): Promise<FaceRecord[]> {
  const { timings } = find;
  const detections = await timed(timings, 'detect_ms', () => detectFaces(models.detector, pyramid, options.detector, find.searchWindows, find.fullScan ?? true, find.tileFilter));
  const faces: FaceRecord[] = [];
  for (const d of detections) {
    const [landmarks5, jitter] = await timed(timings, 'landmarks_ms', async () => {
      const points = fivePoints(await landmarks68(models.landmarks, pyramid, d.box));
      return [points, find.jitter === false ? undefined : await landmarkJitter(models, pyramid, d.box, points)] as const;
    });
    const face = await timed(timings, 'align_quality_ms', () => {
      const aligned = alignFace(pyramid, landmarks5);
      const quality = measureQuality(d.score, d.box, landmarks5, aligned, pyramid.width, pyramid.height, jitter);
      return { box: d.box, score: d.score, landmarks5, quality, aligned, ...gateFace(quality, options.gate) };
    });
    faces.push(face);
  }
  return faces.sort((a, b) => b.score - a.score);
}

/** Box perturbations for the landmark jitter: shift 10 % left, right, down, and enlarge 15 %. */
const JITTERS: readonly [number, number, number][] = [
  [0.1, 0, 1],
  [-0.1, 0, 1],
  [0, 0.1, 1],
  [0, 0, 1.15],
];

async function landmarkJitter(models: FaceModels, pyramid: Pyramid, box: Box, points: readonly Point[]): Promise<number> {
  const w = box[2] - box[0];
  const h = box[3] - box[1];
  const eyes = Math.max(1e-6, distance(points[0]!, points[1]!));
  let sum = 0;
  for (const [dx, dy, s] of JITTERS) {
    const cx = (box[0] + box[2]) / 2 + dx * w;
    const cy = (box[1] + box[3]) / 2 + dy * h;
    const moved = fivePoints(await landmarks68(models.landmarks, pyramid, [cx - (w * s) / 2, cy - (h * s) / 2, cx + (w * s) / 2, cy + (h * s) / 2]));
    sum += moved.reduce((acc, p, i) => acc + distance(p, points[i]!), 0) / points.length / eyes;
  }
  return sum / JITTERS.length;
}

/**
 * Measure the landmark jitter of a face found with `jitter: false` and re-run the gate. `image` is the
 * frame, or a crop of it around the face whose top-left corner was at `origin` in the frame (the jitter
 * only looks 15 % around the box, well inside a crop with margin).
 */
export async function verifyRecord(models: FaceModels, image: RgbImage, origin: [number, number], face: FaceRecord, gate: GateOptions, timings?: StageTimings): Promise<boolean> {
  if (face.quality.landmark_jitter === undefined) {
    const [ox, oy] = origin;
    const box: Box = [face.box[0] - ox, face.box[1] - oy, face.box[2] - ox, face.box[3] - oy];
    const points = face.landmarks5.map(([x, y]): Point => [x - ox, y - oy]);
    face.quality.landmark_jitter = await timed(timings, 'landmarks_ms', () => landmarkJitter(models, new Pyramid(image), box, points));
    Object.assign(face, gateFace(face.quality, gate));
  }
  return face.accepted;
}

/**
 * Embed a face (once) and re-run the gate with the feature norm, which can only be known now.
 * Returns undefined in crops-only mode (no embedder loaded).
 */
export async function embedRecord(models: FaceModels, face: FaceRecord, gate: GateOptions, timings?: StageTimings): Promise<Float32Array | undefined> {
  const embedder = models.embedder;
  if (!embedder) return undefined;
  if (!face.embedding) {
    const { embedding, norm } = await timed(timings, 'embed_ms', () => embedFace(embedder, face.aligned));
    face.embedding = embedding;
    face.quality.feature_norm = norm;
    Object.assign(face, gateFace(face.quality, gate));
  }
  return face.embedding;
}
