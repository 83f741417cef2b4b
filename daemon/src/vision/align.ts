import type { Point } from './geometry.js';
import { warpToImage, type Pyramid, type RgbImage } from './image.js';

/** The ArcFace 112x112 template the embedder was trained on (eyes, nose tip, mouth corners). */
export const ARCFACE_TEMPLATE: readonly Point[] = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];
export const ALIGNED_SIZE = 112;

/** A similarity transform dst = s*R*src + t as [a, -b, tx; b, a, ty] with a = s*cos, b = s*sin. */
export interface Similarity {
  a: number;
  b: number;
  tx: number;
  ty: number;
}

/**
 * Least-squares similarity (rotation, uniform scale, translation; no reflection, no shear) from `src` to
 * `dst` (Umeyama 1991, 2-D closed form). The model package's own 3-point affine adds shear and costs
 * ~10 points of LFW accuracy, so it is not used.
 */
export function umeyama(src: readonly Point[], dst: readonly Point[]): Similarity {
  const n = src.length;
  let sx = 0, sy = 0, dx = 0, dy = 0;
  for (let i = 0; i < n; i++) {
    sx += src[i]![0]; sy += src[i]![1]; dx += dst[i]![0]; dy += dst[i]![1];
  }
  sx /= n; sy /= n; dx /= n; dy /= n;
  let varS = 0, sxx = 0, sxy = 0;
  for (let i = 0; i < n; i++) {
    const px = src[i]![0] - sx, py = src[i]![1] - sy;
    const qx = dst[i]![0] - dx, qy = dst[i]![1] - dy;
    varS += px * px + py * py;
    sxx += px * qx + py * qy; // sum of dot products -> cos part
    sxy += px * qy - py * qx; // sum of cross products -> sin part
  }
  if (varS === 0) return { a: 1, b: 0, tx: dx - sx, ty: dy - sy };
  // For 2-D points the SVD solution reduces to: rotation angle = atan2(cross, dot), scale = |(dot,cross)| / var
  const a = sxx / varS;
  const b = sxy / varS;
  return { a, b, tx: dx - (a * sx - b * sy), ty: dy - (b * sx + a * sy) };
}

export function applySimilarity(t: Similarity, p: Point): Point {
  return [t.a * p[0] - t.b * p[1] + t.tx, t.b * p[0] + t.a * p[1] + t.ty];
}

/**
 * How far the 5 points are from a face shape: RMS distance, in template pixels (112x112 face), between the
 * template and the points mapped onto it by the best similarity. Small for a face at any position, size
 * and roll; large for landmarks the model placed on something that is not a face.
 */
export function templateResidual(points: readonly Point[]): number {
  const t = umeyama(points, ARCFACE_TEMPLATE);
  let sum = 0;
  points.forEach((p, i) => {
    const q = applySimilarity(t, p);
    const r = ARCFACE_TEMPLATE[i]!;
    sum += (q[0] - r[0]) ** 2 + (q[1] - r[1]) ** 2;
  });
  return Math.sqrt(sum / points.length);
}

/**
 * The aligned 112x112 RGB face: warp the frame so the 5 points land on the template. Reads from the pyramid
 * level that keeps the remaining downscale under 2x, so a large face is not aliased.
 */
export function alignFace(pyramid: Pyramid, points: readonly Point[]): RgbImage {
  const t = umeyama(points, ARCFACE_TEMPLATE);
  const scale = Math.hypot(t.a, t.b); // template px per frame px
  const { image, factor } = pyramid.levelFor(1 / scale);
  // inverse: src = R^T (dst - t) / s, in base-image px, then / factor for the chosen level
  const s2 = t.a * t.a + t.b * t.b;
  const ia = t.a / s2 / factor;
  const ib = t.b / s2 / factor;
  const c = (-(t.a * t.tx + t.b * t.ty) / s2) / factor;
  const f = ((t.b * t.tx - t.a * t.ty) / s2) / factor;
  // half-pixel centres: level pixel centres sit at (i + 0.5) * factor - 0.5 in base pixels
  const shift = (1 / factor - 1) * 0.5;
  return warpToImage(image, [ia, ib, c + shift, -ib, ia, f + shift], ALIGNED_SIZE, ALIGNED_SIZE);
}
