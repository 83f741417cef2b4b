import { describe, expect, it } from 'vitest';
import { alignFace, applySimilarity, ARCFACE_TEMPLATE, templateResidual, umeyama } from '../../../daemon/src/vision/align.js';
import { searchRegion, tileRegions, tileScalesFor } from '../../../daemon/src/vision/detector.js';
import { fivePoints, iou, nms, suppressContained, type Box, type Point } from '../../../daemon/src/vision/geometry.js';
import { Pyramid, halve, sampleRegion, warpToImage } from '../../../daemon/src/vision/image.js';
import { laplacianVariance } from '../../../daemon/src/vision/quality.js';

describe('face geometry', () => {
  it('umeyama recovers a known similarity (rotation, scale, translation) and never reflects', () => {
    const angle = 0.3;
    const s = 2.5;
    const src = ARCFACE_TEMPLATE.map(([x, y]): Point => [s * (Math.cos(angle) * x - Math.sin(angle) * y) + 40, s * (Math.sin(angle) * x + Math.cos(angle) * y) - 7]);
    const t = umeyama(src, ARCFACE_TEMPLATE);
    src.forEach((p, i) => {
      const q = applySimilarity(t, p);
      expect(q[0]).toBeCloseTo(ARCFACE_TEMPLATE[i]![0], 6);
      expect(q[1]).toBeCloseTo(ARCFACE_TEMPLATE[i]![1], 6);
    });
    expect(templateResidual(src)).toBeLessThan(1e-6);
    // a mirrored face cannot be fitted by a similarity: the residual shows it
    const mirrored = ARCFACE_TEMPLATE.map(([x, y]): Point => [112 - x, y]);
    expect(templateResidual(mirrored)).toBeGreaterThan(5);
  });

  it('greedy NMS keeps the best of overlapping boxes by score, not by position', () => {
    const boxes: { box: Box; score: number }[] = [
      { box: [0, 0, 10, 10], score: 0.7 },
      { box: [1, 1, 11, 11], score: 0.9 },
      { box: [50, 50, 60, 60], score: 0.8 },
      { box: [0, 20, 10, 30], score: 0.95 },
    ];
    const kept = nms(boxes, 0.4);
    expect(kept.map((b) => b.score)).toEqual([0.95, 0.9, 0.8]);
    expect(iou([0, 0, 10, 10], [5, 0, 15, 10])).toBeCloseTo(1 / 3, 6);
  });

  it('half a face found by a tile inside the whole face is dropped; a neighbouring face is kept', () => {
    const whole = { box: [100, 100, 300, 320] as Box, score: 0.99 };
    const half = { box: [200, 110, 300, 260] as Box, score: 0.95 };
    const neighbour = { box: [290, 120, 420, 300] as Box, score: 0.9 };
    expect(nms([whole, half, neighbour], 0.4)).toHaveLength(3); // IoU alone keeps the half face
    expect(suppressContained([whole, half, neighbour], 0.6)).toEqual([whole, neighbour]);
  });

  it('tiles overlap and cover a 1080p frame: 12 tiles at 2x, 4 at 4x, none when the tile is the frame', () => {
    const t2 = tileRegions(1920, 1080, 2, 0.25);
    const t4 = tileRegions(1920, 1080, 4, 0.25);
    expect(t2).toHaveLength(12);
    expect(t4).toHaveLength(4);
    expect(tileRegions(320, 240, 2, 0.25)).toHaveLength(0);
    for (const tiles of [t2, t4]) {
      expect(Math.max(...tiles.map((t) => t.x + t.width))).toBe(1920);
      expect(Math.max(...tiles.map((t) => t.y + t.height))).toBe(1080);
    }
    const w = searchRegion([1900, 1000, 1915, 1015], 1920, 1080);
    expect(w.width).toBe(320);
    expect(w.x + w.width).toBeLessThanOrEqual(1920);
    expect(w.y + w.height).toBeLessThanOrEqual(1080);
  });

  it('a tile pass runs only where the finer tiles cannot hold whole every face too small for the coarser pass', () => {
    const options = { tileScales: [2, 4], tileOverlap: 0.25 };
    // 1080p: the whole-frame pass (downscale 6) sees faces from 96 px; the scale-2 tiles hold whole any face up to 120 px
    expect(tileScalesFor(1920, 1080, options)).toEqual([2]);
    const t2 = tileRegions(1920, 1080, 2, 0.25);
    for (let i = 0; i < 2000; i++) {
      const size = 20 + ((i * 37) % 101); // 20..120 px
      const x = (i * 7919) % (1920 - size);
      const y = (i * 104729) % (1080 - size);
      const whole = t2.some((t) => t.x <= x && t.y <= y && t.x + t.width >= x + size && t.y + t.height >= y + size);
      expect(whole, `a ${size} px face at ${x},${y}`).toBe(true);
    }
    // 4K: the whole-frame pass (downscale 12) needs faces from 192 px; the scale-4 tiles fill the gap
    expect(tileScalesFor(3840, 2160, options)).toEqual([2, 4]);
    expect(tileScalesFor(2560, 1440, options)).toEqual([2, 4]);
    // 720p: a scale-4 tile is the whole frame already; no overlap: nothing is whole, every pass runs
    expect(tileScalesFor(1280, 720, options)).toEqual([2]);
    expect(tileScalesFor(1920, 1080, { tileScales: [2, 4], tileOverlap: 0 })).toEqual([2, 4]);
    // as configured, in any order, once each
    expect(tileScalesFor(3840, 2160, { tileScales: [4, 2, 2], tileOverlap: 0.25 })).toEqual([2, 4]);
    expect(tileScalesFor(320, 240, options)).toEqual([]);
  });

  it('68 -> 5 points: eyes are the lid means, mouth corners the mean of outer and inner corner', () => {
    const l68 = Array.from({ length: 68 }, (_, i): Point => [i, 2 * i]);
    const five = fivePoints(l68);
    expect(five[0]).toEqual([39, 78]);
    expect(five[1]).toEqual([45, 90]);
    expect(five[2]).toEqual([30, 60]);
    expect(five[3]).toEqual([54, 108]);
    expect(five[4]).toEqual([59, 118]);
  });
});

describe('pixels', () => {
  const gradient = (w: number, h: number): Uint8Array => {
    const d = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) d.set([x % 256, y % 256, 128], (y * w + x) * 3);
    return d;
  };

  it('halving averages 2x2 blocks; region sampling reads the right place at any scale', () => {
    const img = { width: 64, height: 32, data: gradient(64, 32) };
    const h = halve(img);
    expect([h.width, h.height]).toEqual([32, 16]);
    expect(h.data[0]).toBe(1); // (0+1+0+1)/4 rounded
    const pyr = new Pyramid(img);
    const out = sampleRegion(pyr, { x: 16, y: 8, width: 32, height: 16 }, 32, 16);
    expect(out.data[0]).toBe(16);
    expect(out.data[1]).toBe(8);
    const down = sampleRegion(pyr, { x: 0, y: 0, width: 64, height: 32 }, 16, 8);
    expect(Math.abs(down.data[3 * 5]! - (5 * 4 + 1.5))).toBeLessThanOrEqual(1);
  });

  it('a small region at 2x+ downscale gives the same pixels without computing the whole frame\'s pyramid', () => {
    const img = { width: 640, height: 480, data: gradient(640, 480) };
    const region = { x: 100.5, y: 60.25, width: 160, height: 120 };
    const local = sampleRegion(new Pyramid(img), region, 40, 30); // 4x: halves just the region twice
    const whole = new Pyramid(img);
    whole.level(2);
    const viaFrame = sampleRegion(whole, region, 40, 30);
    let maxDiff = 0;
    for (let i = 0; i < local.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(local.data[i]! - viaFrame.data[i]!));
    expect(maxDiff).toBeLessThanOrEqual(2);
  });

  it('every path of the warp (row copy, axis-aligned, rotated, at and beyond the border) is plain bilinear', () => {
    const w = 97;
    const h = 61;
    const data = new Uint8Array(w * h * 3);
    let seed = 7;
    for (let i = 0; i < data.length; i++) data[i] = (seed = (seed * 1103515245 + 12345) % 2 ** 31) >> 23;
    const src = { width: w, height: h, data };
    // the textbook form, pixel by pixel: taps outside the image count as black
    const at = (x: number, y: number, ch: number): number => (x >= 0 && y >= 0 && x < w && y < h ? data[(y * w + x) * 3 + ch]! : 0);
    const reference = (m: number[], ox: number, oy: number, ch: number): number => {
      const fx = m[0]! * ox + m[1]! * oy + m[2]!;
      const fy = m[3]! * ox + m[4]! * oy + m[5]!;
      const x = Math.floor(fx);
      const y = Math.floor(fy);
      if (x < -1 || y < -1 || x >= w || y >= h) return 0;
      const ax = fx - x;
      const ay = fy - y;
      return at(x, y, ch) * (1 - ax) * (1 - ay) + at(x + 1, y, ch) * ax * (1 - ay) + at(x, y + 1, ch) * (1 - ax) * ay + at(x + 1, y + 1, ch) * ax * ay;
    };
    const maps = [
      [1, 0, 3, 0, 1, 2], // row copy
      [1.7, 0, 2.3, 0, 1.3, 1.1], // axis-aligned, inside
      [0.9, 0.3, 10.5, -0.3, 0.9, 20.2], // rotated, inside
      [1.2, 0.4, -8, -0.4, 1.2, 30], // rotated, crossing the border
      [2.5, 0, -20, 0, 2.5, -10], // axis-aligned, partly outside
    ];
    for (const m of maps) {
      const out = warpToImage(src, m, 40, 30);
      let maxDiff = 0;
      for (let oy = 0; oy < 30; oy++) for (let ox = 0; ox < 40; ox++) for (let ch = 0; ch < 3; ch++) maxDiff = Math.max(maxDiff, Math.abs(out.data[(oy * 40 + ox) * 3 + ch]! - Math.floor(reference(m, ox, oy, ch) + 0.5)));
      expect(maxDiff, `map ${m.join(',')}`).toBeLessThanOrEqual(1);
    }
  });

  it('aligning a face whose points already sit on the template is the identity warp', () => {
    const img = { width: 112, height: 112, data: gradient(112, 112) };
    const aligned = alignFace(new Pyramid(img), ARCFACE_TEMPLATE);
    expect(aligned.width).toBe(112);
    expect(Math.abs(aligned.data[(50 * 112 + 60) * 3]! - 60)).toBeLessThanOrEqual(1);
    expect(Math.abs(aligned.data[(50 * 112 + 60) * 3 + 1]! - 50)).toBeLessThanOrEqual(1);
  });

  it('the Laplacian variance is zero on a flat image and grows with detail', () => {
    const flat = new Float32Array(112 * 112).fill(100);
    const checker = Float32Array.from({ length: 112 * 112 }, (_, i) => ((i % 112) + Math.floor(i / 112)) % 2 ? 200 : 50);
    expect(laplacianVariance(flat, 112, 112)).toBe(0);
    expect(laplacianVariance(checker, 112, 112)).toBeGreaterThan(1000);
  });
});
