import { alignFace } from './align.js';
import type { FaceRecord } from './faces.js';
import { gateFace, type GateOptions } from './gate.js';
import { distance, fivePoints, iou, mean, type Box, type Point } from './geometry.js';
import type { Pyramid } from './image.js';
import { landmarks68 } from './landmarks.js';
import type { FaceModels } from './models.js';
import { measureQuality } from './quality.js';
import { timed, type StageTimings } from './timings.js';

/**
 * Following a tracked face between full scans with the landmark model alone.
 *
 * A detector window around each tracked face costs a detector run (~3 ms) plus resampling a 320x240
 * input; two runs of the landmark model cost ~1 ms. The detector box is not a function of the landmarks,
 * so each track keeps the shape of its last detected box relative to its 5 points (`BoxShape`) and a
 * followed face gets its box from its own points in that shape.
 *
 * The landmark model always answers with 68 points, face or not, so a follow is only believed when it is
 * self-consistent: the points found in the predicted box give a box; where that box differs from the
 * predicted one, the points found in it must land where the first ones did (within `maxDrift` eye
 * distances: a second run in nearly the same box would see the same pixels and tell nothing, so it is
 * skipped), and the box must still overlap the prediction. Anything else (a face that turned away, left,
 * or was predicted badly) returns undefined and the caller looks with the detector as before. A followed
 * face then passes the same quality gate as a detected one (shape error, pose, sharpness...); it carries
 * the score of its track's last detection. Crops are safe either way: the faces finally kept are checked
 * again with the landmark jitter (four runs in shifted boxes) and the feature norm, and every full scan
 * re-detects the tracked faces with the detector.
 */

/** A box relative to its face's 5 points: corners as offsets from their centroid, in units of their spread. */
export type BoxShape = [number, number, number, number];

/** Centroid and RMS spread of the points (the spread is 0 for degenerate points). */
function frameOf(points: readonly Point[]): [number, number, number] {
  const [cx, cy] = mean(points);
  const spread = Math.sqrt(points.reduce((s, p) => s + (p[0] - cx) ** 2 + (p[1] - cy) ** 2, 0) / points.length);
  return [cx, cy, spread];
}

export function boxShape(box: Box, points: readonly Point[]): BoxShape | undefined {
  const [cx, cy, s] = frameOf(points);
  if (!(s > 0)) return undefined;
  return [(box[0] - cx) / s, (box[1] - cy) / s, (box[2] - cx) / s, (box[3] - cy) / s];
}

export function boxFromPoints(shape: BoxShape, points: readonly Point[]): Box {
  const [cx, cy, s] = frameOf(points);
  return [cx + shape[0] * s, cy + shape[1] * s, cx + shape[2] * s, cy + shape[3] * s];
}

/** Mean distance between corresponding points, in eye distances of `b`. */
export function pointDrift(a: readonly Point[], b: readonly Point[]): number {
  const eyes = distance(b[0]!, b[1]!);
  if (!(eyes > 0)) return Infinity;
  return a.reduce((s, p, i) => s + distance(p, b[i]!), 0) / a.length / eyes;
}

/** Smallest IoU between the predicted and the followed box (walking at 5 fps keeps ~0.6 after prediction). */
const MIN_OVERLAP = 0.3;

/** Boxes overlapping this much give the landmark model (nearly) the same input. */
const SAME_INPUT_IOU = 0.85;

export interface FollowTarget {
  predicted: Box;
  shape: BoxShape;
  score: number;
}

export async function followFace(models: FaceModels, pyramid: Pyramid, target: FollowTarget, gate: GateOptions, maxDrift: number, timings?: StageTimings): Promise<FaceRecord | undefined> {
  const { width, height } = pyramid;
  const found = await timed(timings, 'landmarks_ms', async () => {
    const first = fivePoints(await landmarks68(models.landmarks, pyramid, target.predicted));
    const box1 = boxFromPoints(target.shape, first);
    if (!inside(box1, width, height)) return undefined;
    // a second run in (nearly) the same box would see the same pixels and could only agree
    if (iou(box1, target.predicted) >= SAME_INPUT_IOU) return { points: first, box: box1 };
    const points = fivePoints(await landmarks68(models.landmarks, pyramid, box1));
    if (pointDrift(first, points) > maxDrift) return undefined;
    const box = boxFromPoints(target.shape, points);
    if (!inside(box, width, height) || iou(box, target.predicted) < MIN_OVERLAP) return undefined;
    return { points, box };
  });
  if (!found) return undefined;
  return timed(timings, 'align_quality_ms', () => {
    const aligned = alignFace(pyramid, found.points);
    const quality = measureQuality(target.score, found.box, found.points, aligned, width, height);
    return { box: found.box, score: target.score, landmarks5: found.points, quality, aligned, ...gateFace(quality, gate) };
  });
}

/** The box is a real box whose centre is in the frame. */
function inside(b: Box, width: number, height: number): boolean {
  const cx = (b[0] + b[2]) / 2;
  const cy = (b[1] + b[3]) / 2;
  return b[2] - b[0] >= 2 && b[3] - b[1] >= 2 && cx >= 0 && cy >= 0 && cx < width && cy < height;
}
