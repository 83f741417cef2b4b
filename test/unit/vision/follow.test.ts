import { describe, expect, it } from 'vitest';
import { boxFromPoints, boxShape, pointDrift } from '../../../daemon/src/vision/follow.js';
import type { Box, Point } from '../../../daemon/src/vision/geometry.js';

const POINTS: Point[] = [
  [40, 50],
  [70, 50],
  [55, 65],
  [44, 80],
  [66, 80],
];

describe('following a face by its landmarks', () => {
  it('a box keeps its shape around the 5 points when the face moves and grows', () => {
    const box: Box = [30, 35, 82, 98];
    const shape = boxShape(box, POINTS)!;
    expect(boxFromPoints(shape, POINTS).map((v) => Math.round(v * 1e6) / 1e6)).toEqual(box);
    // the same face 1.5x larger and 200 px to the right: the box scales and moves with it
    const moved = POINTS.map(([x, y]): Point => [1.5 * x + 200, 1.5 * y + 10]);
    const expected = box.map((v, i) => (i % 2 === 0 ? 1.5 * v + 200 : 1.5 * v + 10));
    boxFromPoints(shape, moved).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
  });

  it('degenerate points give no shape; drift is measured in eye distances', () => {
    expect(boxShape([0, 0, 10, 10], Array(5).fill([5, 5]))).toBeUndefined();
    expect(pointDrift(POINTS, POINTS)).toBe(0);
    // every point 3 px away with 30 px between the eyes: 0.1 eye distances
    expect(pointDrift(POINTS.map(([x, y]) => [x + 3, y]), POINTS)).toBeCloseTo(0.1, 9);
    expect(pointDrift(POINTS, Array(5).fill([1, 1]))).toBe(Infinity);
  });
});
