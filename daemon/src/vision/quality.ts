import { ALIGNED_SIZE, applySimilarity, ARCFACE_TEMPLATE, templateResidual, umeyama } from './align.js';
import { distance, type Box, type Point } from './geometry.js';
import { toGrey, type RgbImage } from './image.js';

/** What the pipeline knows about how usable one face is. Every number is kept in the result. */
export interface FaceQuality {
  /** Detector confidence 0..1. */
  score: number;
  /** Distance between the eye centres in frame pixels. */
  eye_distance: number;
  /** Variance of the Laplacian of the aligned 112x112 grey face (higher = sharper). */
  sharpness: number;
  /** Nose offset from the eye midline in half eye distances, in the aligned face: 0 frontal, +-1 profile. */
  yaw: number;
  /** Nose height between eyes and mouth minus the template's (0.49): > 0 looking down, < 0 up. */
  pitch: number;
  /** Angle of the eye line in degrees (in-plane tilt). */
  roll: number;
  /** RMS distance (template px) of the 5 points from the face template after the best similarity. */
  shape_error: number;
  /** Mean grey level of the aligned face 0..255. */
  brightness: number;
  /** Standard deviation of the grey level of the aligned face. */
  contrast: number;
  /** Fraction of the detector box that lies outside the frame (0 = whole face in view). */
  clipped: number;
  /**
   * How far the 5 points move (mean, in eye distances) when the landmark model is run again on the box
   * shifted by 10 % and enlarged by 15 %. A face pins the landmarks; on fur or texture they drift.
   */
  landmark_jitter?: number;
  /**
   * Length of the embedder's output before L2 normalisation (only when the face was embedded). Like
   * MagFace's magnitude it falls for inputs unlike the faces the model was trained on.
   */
  feature_norm?: number;
}

export function measureQuality(score: number, box: Box, points: readonly Point[], aligned: RgbImage, width: number, height: number, jitter?: number): FaceQuality {
  const [le, re] = points as [Point, Point];
  // pose in the aligned frame: rotation and scale removed, so the numbers do not depend on face size
  const t = umeyama(points, ARCFACE_TEMPLATE);
  const [ale, are, anose, aml, amr] = points.map((p) => applySimilarity(t, p)) as [Point, Point, Point, Point, Point];
  const eyeMidX = (ale[0] + are[0]) / 2;
  const eyeY = (ale[1] + are[1]) / 2;
  const mouthY = (aml[1] + amr[1]) / 2;
  const halfEye = Math.max(1e-6, distance(ale, are) / 2);
  const grey = toGrey(aligned);
  const { mean, std } = stats(grey);
  const bw = box[2] - box[0];
  const bh = box[3] - box[1];
  const inside = Math.max(0, Math.min(box[2], width) - Math.max(box[0], 0)) * Math.max(0, Math.min(box[3], height) - Math.max(box[1], 0));
  return {
    score,
    eye_distance: distance(le, re),
    sharpness: laplacianVariance(grey, ALIGNED_SIZE, ALIGNED_SIZE),
    yaw: (anose[0] - eyeMidX) / halfEye,
    pitch: (anose[1] - eyeY) / Math.max(1e-6, mouthY - eyeY) - 0.494,
    roll: (Math.atan2(re[1] - le[1], re[0] - le[0]) * 180) / Math.PI,
    shape_error: templateResidual(points),
    brightness: mean,
    contrast: std,
    clipped: bw > 0 && bh > 0 ? 1 - inside / (bw * bh) : 1,
    ...(jitter === undefined ? {} : { landmark_jitter: jitter }),
  };
}

function stats(v: Float32Array): { mean: number; std: number } {
  let s = 0;
  let s2 = 0;
  for (const x of v) {
    s += x;
    s2 += x * x;
  }
  const mean = s / v.length;
  return { mean, std: Math.sqrt(Math.max(0, s2 / v.length - mean * mean)) };
}

/** Variance of the 4-neighbour Laplacian over the central part of the aligned face (the face, not the border). */
export function laplacianVariance(g: Float32Array, w: number, h: number): number {
  const m = Math.round(w * 0.15);
  let s = 0;
  let s2 = 0;
  let n = 0;
  for (let y = m; y < h - m; y++) {
    for (let x = m; x < w - m; x++) {
      const i = y * w + x;
      const l = g[i - 1]! + g[i + 1]! + g[i - w]! + g[i + w]! - 4 * g[i]!;
      s += l;
      s2 += l * l;
      n++;
    }
  }
  const mean = s / n;
  return s2 / n - mean * mean;
}

/**
 * One number to rank the faces of a person: bigger, sharper, more frontal and more certain is better.
 * Size counts linearly up to 100 px between the eyes (the JPEG crop for human review keeps the frame's
 * resolution, so bigger keeps helping well past the 35 px of the aligned face); sharpness saturates around
 * the photo median (Laplacian variance ~130), so a large blurred face loses to a slightly smaller sharp one.
 */
export function qualityRank(q: FaceQuality): number {
  const size = Math.min(1, q.eye_distance / 100);
  const sharp = q.sharpness / (q.sharpness + 130);
  const frontal = Math.max(0, 1 - Math.abs(q.yaw)) * Math.max(0, 1 - Math.abs(q.pitch));
  return q.score * size * sharp * (0.5 + 0.5 * frontal);
}
