import type { FaceQuality } from './quality.js';

/** The limits a face must meet to be used as evidence. Defaults and their reasons are in the config schema. */
export interface GateOptions {
  minScore: number;
  minEyeDistance: number;
  minSharpness: number;
  maxYaw: number;
  maxPitch: number;
  maxShapeError: number;
  maxLandmarkJitter: number;
  /** Only checked for faces that were embedded (like the jitter, only for faces where it was measured). */
  minFeatureNorm: number;
  minBrightness: number;
  maxBrightness: number;
  minContrast: number;
  maxClipped: number;
}

export type RejectReason = 'low_score' | 'not_a_face' | 'too_small' | 'profile' | 'pitched' | 'blurred' | 'too_dark' | 'overexposed' | 'low_contrast' | 'clipped';

export interface GateVerdict {
  accepted: boolean;
  /** 'ok' when accepted, else the first limit the face failed. */
  reason: 'ok' | RejectReason;
}

/**
 * Decide whether a face is usable. Checks run in a fixed order so the reason names the most fundamental
 * problem: not a face at all before too small, too small before blurred, and so on.
 */
export function gateFace(q: FaceQuality, o: GateOptions): GateVerdict {
  const checks: [boolean, RejectReason][] = [
    [q.score < o.minScore, 'low_score'],
    [q.landmark_jitter !== undefined && q.landmark_jitter > o.maxLandmarkJitter, 'not_a_face'],
    [q.feature_norm !== undefined && q.feature_norm < o.minFeatureNorm, 'not_a_face'],
    [q.shape_error > o.maxShapeError, 'not_a_face'],
    [q.eye_distance < o.minEyeDistance, 'too_small'],
    [Math.abs(q.yaw) > o.maxYaw, 'profile'],
    [Math.abs(q.pitch) > o.maxPitch, 'pitched'],
    [q.clipped > o.maxClipped, 'clipped'],
    [q.brightness < o.minBrightness, 'too_dark'],
    [q.brightness > o.maxBrightness, 'overexposed'],
    [q.contrast < o.minContrast, 'low_contrast'],
    [q.sharpness < o.minSharpness, 'blurred'],
  ];
  for (const [failed, reason] of checks) if (failed) return { accepted: false, reason };
  return { accepted: true, reason: 'ok' };
}
