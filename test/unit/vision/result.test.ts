import { describe, expect, it } from 'vitest';
import { clipTimeUtc } from '../../../daemon/src/vision/result.js';

describe('times of faces in a master clip', () => {
  it('are counted in the stretch of the clip they fall in, so a recording gap is not lost', () => {
    const start = Date.parse('2026-03-01T10:00:00Z');
    // 20 s of footage, a 5 s outage, then 15 s more: the clip itself runs 35 s without a break
    const pieces = [
      { clipOffsetMs: 0, utcStartMs: start },
      { clipOffsetMs: 20_000, utcStartMs: start + 25_000 },
    ];
    expect(clipTimeUtc(start, pieces, 0)).toBe(start);
    expect(clipTimeUtc(start, pieces, 19_800)).toBe(start + 19_800);
    expect(clipTimeUtc(start, pieces, 20_000)).toBe(start + 25_000);
    expect(clipTimeUtc(start, pieces, 30_000)).toBe(start + 35_000);
    // without pieces (a clip from `hindsight analyse`): one stretch from the clip's start
    expect(clipTimeUtc(start, undefined, 30_000)).toBe(start + 30_000);
    expect(clipTimeUtc(start, [], 1_000)).toBe(start + 1_000);
  });
});
