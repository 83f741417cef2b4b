import { alignFace } from './align.js';
import { detectFaces, type DetectorOptions } from './detector.js';
import { embedFace } from './embedder.js';
import { gateFace, type GateOptions, type GateVerdict } from './gate.js';
import { distance, fivePoints, type Box, type Point } from './geometry.js';
import type { Pyramid, Region, RgbImage } from './image.js';
import { landmarks68 } from './landmarks.js';
import type { FaceModels } from './models.js';
import { measureQuality, type FaceQuality } from './quality.js';

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
export async function findFaces(models: FaceModels, pyramid: Pyramid, options: FaceFinderOptions, searchWindows: Region[] = [], tiles = true): Promise<FaceRecord[]> {
  const detOptions = tiles ? options.detector : { ...options.detector, tileScales: [] };
  const detections = await detectFaces(models.detector, pyramid, detOptions, searchWindows);
  const faces: FaceRecord[] = [];
  for (const d of detections) {
    const landmarks5 = fivePoints(await landmarks68(models.landmarks, pyramid, d.box));
    const jitter = await landmarkJitter(models, pyramid, d.box, landmarks5);
    const aligned = alignFace(pyramid, landmarks5);
    const quality = measureQuality(d.score, d.box, landmarks5, aligned, pyramid.width, pyramid.height, jitter);
    faces.push({ box: d.box, score: d.score, landmarks5, quality, aligned, ...gateFace(quality, options.gate) });
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
 * Embed a face (once) and re-run the gate with the feature norm, which can only be known now.
 * Returns undefined in crops-only mode (no embedder loaded).
 */
export async function embedRecord(models: FaceModels, face: FaceRecord, gate: GateOptions): Promise<Float32Array | undefined> {
  if (!models.embedder) return undefined;
  if (!face.embedding) {
    const { embedding, norm } = await embedFace(models.embedder, face.aligned);
    face.embedding = embedding;
    face.quality.feature_norm = norm;
    Object.assign(face, gateFace(face.quality, gate));
  }
  return face.embedding;
}
