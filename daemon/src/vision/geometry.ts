/** Boxes, overlap and non-maximum suppression. */

/** x1, y1, x2, y2 in pixels of the frame. */
export type Box = [number, number, number, number];
export type Point = [number, number];

export interface ScoredBox {
  box: Box;
  score: number;
}

export function area(b: Box): number {
  return Math.max(0, b[2] - b[0]) * Math.max(0, b[3] - b[1]);
}

export function iou(a: Box, b: Box): number {
  const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = ix * iy;
  const union = area(a) + area(b) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Standard greedy IoU NMS: highest score first, drop every later box overlapping a kept one by more than
 * `threshold`. (The model package's own NMS sorts by y2 and compares against one box only: not used.)
 */
export function nms<T extends ScoredBox>(items: readonly T[], threshold: number, limit = Infinity): T[] {
  const sorted = [...items].sort((a, b) => b.score - a.score);
  const kept: T[] = [];
  for (const item of sorted) {
    if (kept.length >= limit) break;
    if (kept.every((k) => iou(k.box, item.box) <= threshold)) kept.push(item);
  }
  return kept;
}

/** Intersection over the smaller box's area: 1 when one box lies inside the other. */
export function overlapOfSmaller(a: Box, b: Box): number {
  const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const smaller = Math.min(area(a), area(b));
  return smaller > 0 ? (ix * iy) / smaller : 0;
}

/**
 * Drop boxes lying mostly inside a higher-scoring box. Tiles see parts of a large face as faces of their
 * own (half a face at the tile's scale scores ~0.95): IoU with the whole face stays under the NMS limit,
 * but one face cannot sit inside another.
 */
export function suppressContained<T extends ScoredBox>(items: readonly T[], threshold: number): T[] {
  const sorted = [...items].sort((a, b) => b.score - a.score);
  const kept: T[] = [];
  for (const item of sorted) if (kept.every((k) => overlapOfSmaller(k.box, item.box) <= threshold)) kept.push(item);
  return kept;
}

export function centre(b: Box): Point {
  return [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2];
}

/** Square of side = box height around the box centre, clamped to the image (the landmark model's input). */
export function squareForLandmarks(b: Box, width: number, height: number): Box {
  const [cx, cy] = centre(b);
  const side = Math.min(b[3] - b[1], width, height);
  let x1 = cx - side / 2;
  let y1 = cy - side / 2;
  x1 = Math.min(Math.max(0, x1), width - side);
  y1 = Math.min(Math.max(0, y1), height - side);
  return [x1, y1, x1 + side, y1 + side];
}

export function distance(a: Point, b: Point): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1]);
}

export function mean(points: readonly Point[]): Point {
  let x = 0;
  let y = 0;
  for (const p of points) {
    x += p[0];
    y += p[1];
  }
  return [x / points.length, y / points.length];
}

/**
 * The 5 points (left eye, right eye, nose tip, left and right mouth corner, as seen in the image) from the
 * 68 iBUG landmarks: eyes are the mean of the 4 lid points, mouth corners the mean of outer and inner corner.
 */
export function fivePoints(l68: readonly Point[]): Point[] {
  const at = (i: number): Point => l68[i] ?? [0, 0];
  return [
    mean([at(37), at(38), at(40), at(41)]),
    mean([at(43), at(44), at(46), at(47)]),
    at(30),
    mean([at(48), at(60)]),
    mean([at(54), at(64)]),
  ];
}
