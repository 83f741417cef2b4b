/**
 * Raw RGB images and the few pixel operations the face pipeline needs. Everything works on interleaved
 * 8-bit RGB (what ffmpeg's rgb24 and sharp's raw output give), without copying whole frames around.
 */

export interface RgbImage {
  width: number;
  height: number;
  /** Interleaved R,G,B bytes, row-major, no padding: width * height * 3 bytes. */
  data: Uint8Array;
}

/** A rectangle in pixel coordinates (x, y of the top-left corner). */
export interface Region {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Half-size copy by 2x2 averaging (an anti-aliased downscale; cheap enough to do once per frame). */
export function halve(src: RgbImage): RgbImage {
  const w = src.width >> 1;
  const h = src.height >> 1;
  const out = new Uint8Array(w * h * 3);
  const s = src.data;
  const stride = src.width * 3;
  let o = 0;
  for (let y = 0; y < h; y++) {
    let a = 2 * y * stride;
    let b = a + stride;
    for (let x = 0; x < w; x++) {
      out[o++] = (s[a]! + s[a + 3]! + s[b]! + s[b + 3]! + 2) >> 2;
      out[o++] = (s[a + 1]! + s[a + 4]! + s[b + 1]! + s[b + 4]! + 2) >> 2;
      out[o++] = (s[a + 2]! + s[a + 5]! + s[b + 2]! + s[b + 5]! + 2) >> 2;
      a += 6;
      b += 6;
    }
  }
  return { width: w, height: h, data: out };
}

/**
 * The frame at 1x, 1/2, 1/4... built lazily. Sampling a region at a large downscale from the nearest
 * finer level instead of from full resolution avoids aliasing (small faces vanish in aliased noise) and
 * touches 4x fewer pixels per level: whole frame, tiles and crops all come from one decode.
 */
export class Pyramid {
  private readonly levels: RgbImage[];

  constructor(readonly base: RgbImage) {
    this.levels = [base];
  }

  get width(): number {
    return this.base.width;
  }

  get height(): number {
    return this.base.height;
  }

  level(k: number): RgbImage {
    while (this.levels.length <= k) {
      const last = this.levels[this.levels.length - 1]!;
      if (last.width < 2 || last.height < 2) break;
      this.levels.push(halve(last));
    }
    return this.levels[Math.min(k, this.levels.length - 1)]!;
  }

  /** Whether level k was already computed (sampling a small region need not compute it for the frame). */
  has(k: number): boolean {
    return k < this.levels.length;
  }

  /** The coarsest level that still has at least one source pixel per output pixel for `scale`. */
  levelFor(scale: number): { image: RgbImage; factor: number } {
    const k = scale >= 2 ? Math.floor(Math.log2(scale)) : 0;
    const image = this.level(k);
    return { image, factor: this.base.width / image.width };
  }
}

/**
 * Bilinear resample of `region` (base-image coordinates) to an outW x outH image. Picks the pyramid level
 * so the remaining resampling is at most 2x. Outside the image is black.
 */
export function sampleRegion(pyramid: Pyramid, region: Region, outW: number, outH: number): RgbImage {
  const scale = Math.min(region.width / outW, region.height / outH);
  const k = scale >= 2 ? Math.floor(Math.log2(scale)) : 0;
  if (k > 0 && !pyramid.has(k) && 4 * region.width * region.height < pyramid.width * pyramid.height) {
    return sampleSmallRegion(pyramid.base, region, k, outW, outH);
  }
  const { image, factor } = pyramid.levelFor(scale);
  const sx = region.width / factor / outW;
  const sy = region.height / factor / outH;
  const x0 = region.x / factor;
  const y0 = region.y / factor;
  // the same affine form as warpAffine: dest (ox, oy) -> source (a*ox + b*oy + c, d*ox + e*oy + f)
  return warpToImage(image, [sx, 0, x0 + 0.5 * sx - 0.5, 0, sy, y0 + 0.5 * sy - 0.5], outW, outH);
}

/**
 * The same as sampleRegion for a region much smaller than the frame (a search window around a tracked
 * face): halve just that region k times instead of computing the frame's pyramid level.
 */
function sampleSmallRegion(base: RgbImage, region: Region, k: number, outW: number, outH: number): RgbImage {
  const factor = 2 ** k;
  // one coarse pixel of padding all round, so the bilinear taps at the region's edges have neighbours
  const padded = { x: region.x - factor, y: region.y - factor, width: region.width + 2 * factor, height: region.height + 2 * factor };
  const ox = Math.max(0, Math.floor(padded.x));
  const oy = Math.max(0, Math.floor(padded.y));
  let local = cropImage(base, padded);
  for (let i = 0; i < k; i++) local = halve(local);
  const sx = region.width / factor / outW;
  const sy = region.height / factor / outH;
  // local level pixel j covers base [ox + j*factor, ox + (j+1)*factor): continuous coordinate (X - ox) / factor
  const x0 = (region.x - ox) / factor;
  const y0 = (region.y - oy) / factor;
  return warpToImage(local, [sx, 0, x0 + 0.5 * sx - 0.5, 0, sy, y0 + 0.5 * sy - 0.5], outW, outH);
}

/**
 * Inverse-mapped bilinear warp: output pixel (ox, oy) reads the source at
 * (m[0]*ox + m[1]*oy + m[2], m[3]*ox + m[4]*oy + m[5]). Black outside the source.
 */
export function warpToImage(src: RgbImage, m: readonly number[], outW: number, outH: number): RgbImage {
  const out = new Uint8Array(outW * outH * 3);
  const { width: w, height: h, data: d } = src;
  const [a = 0, b = 0, c = 0, dd = 0, e = 0, f = 0] = m;
  if (a === 1 && b === 0 && dd === 0 && e === 1 && Number.isInteger(c) && Number.isInteger(f) && c >= 0 && f >= 0 && c + outW <= w && f + outH <= h) {
    // a tile at an exact pyramid level: plain row copies (the common case for the 2x tiles)
    for (let y = 0; y < outH; y++) out.set(d.subarray(((f + y) * w + c) * 3, ((f + y) * w + c + outW) * 3), y * outW * 3);
    return { width: outW, height: outH, data: out };
  }
  if (b === 0 && dd === 0 && a > 0 && e > 0 && c >= 0 && f >= 0 && a * (outW - 1) + c + 1 < w && e * (outH - 1) + f + 1 < h) {
    scaleInside(src, a, c, e, f, out, outW, outH);
    return { width: outW, height: outH, data: out };
  }
  let o = 0;
  for (let oy = 0; oy < outH; oy++) {
    // a row whose two ends read inside the source reads inside all along (the map is affine)
    const xs = b * oy + c;
    const ys = e * oy + f;
    const xe = a * (outW - 1) + xs;
    const ye = dd * (outW - 1) + ys;
    if (Math.min(xs, xe) >= 0 && Math.min(ys, ye) >= 0 && Math.max(xs, xe) + 1 < w && Math.max(ys, ye) + 1 < h) {
      for (let ox = 0; ox < outW; ox++, o += 3) {
        const fx = a * ox + xs;
        const fy = dd * ox + ys;
        const x = fx | 0; // fx >= 0: truncation is floor
        const y = fy | 0;
        const ax = fx - x;
        const ay = fy - y;
        bilinear(d, (y * w + x) * 3, w * 3, ax, ay, out, o);
      }
      continue;
    }
    for (let ox = 0; ox < outW; ox++, o += 3) {
      const fx = a * ox + b * oy + c;
      const fy = dd * ox + e * oy + f;
      const x = Math.floor(fx);
      const y = Math.floor(fy);
      const ax = fx - x;
      const ay = fy - y;
      if (x >= 0 && y >= 0 && x + 1 < w && y + 1 < h) {
        bilinear(d, (y * w + x) * 3, w * 3, ax, ay, out, o);
      } else if (x >= -1 && y >= -1 && x < w && y < h) {
        edgePixel(src, x, y, ax, ay, out, o);
      }
    }
  }
  return { width: outW, height: outH, data: out };
}

/** One RGB output pixel from the 2x2 source pixels at byte `p` (row stride `stride`), weights ax, ay. */
function bilinear(d: Uint8Array, p: number, stride: number, ax: number, ay: number, out: Uint8Array, o: number): void {
  const q = p + stride;
  const w00 = (1 - ax) * (1 - ay);
  const w10 = ax * (1 - ay);
  const w01 = (1 - ax) * ay;
  const w11 = ax * ay;
  out[o] = d[p]! * w00 + d[p + 3]! * w10 + d[q]! * w01 + d[q + 3]! * w11 + 0.5;
  out[o + 1] = d[p + 1]! * w00 + d[p + 4]! * w10 + d[q + 1]! * w01 + d[q + 4]! * w11 + 0.5;
  out[o + 2] = d[p + 2]! * w00 + d[p + 5]! * w10 + d[q + 2]! * w01 + d[q + 5]! * w11 + 0.5;
}

/**
 * The warp for a pure scale + shift whose taps all fall inside the source (detector and landmark inputs):
 * the same bilinear result, with each column's taps and weights computed once instead of per pixel.
 */
function scaleInside(src: RgbImage, a: number, c: number, e: number, f: number, out: Uint8Array, outW: number, outH: number): void {
  const { width: w, data: d } = src;
  const colOffset = new Int32Array(outW);
  const colWeight = new Float64Array(outW);
  for (let ox = 0; ox < outW; ox++) {
    const fx = a * ox + c;
    const x = Math.floor(fx);
    colOffset[ox] = x * 3;
    colWeight[ox] = fx - x;
  }
  const stride = w * 3;
  let o = 0;
  for (let oy = 0; oy < outH; oy++) {
    const fy = e * oy + f;
    const y = Math.floor(fy);
    const ay = fy - y;
    const row = y * stride;
    for (let ox = 0; ox < outW; ox++, o += 3) {
      bilinear(d, row + colOffset[ox]!, stride, colWeight[ox]!, ay, out, o);
    }
  }
}

/** The slow path of the warp at the image border: neighbours outside count as black. */
function edgePixel(src: RgbImage, x: number, y: number, ax: number, ay: number, out: Uint8Array, o: number): void {
  const taps: [number, number, number][] = [
    [x, y, (1 - ax) * (1 - ay)],
    [x + 1, y, ax * (1 - ay)],
    [x, y + 1, (1 - ax) * ay],
    [x + 1, y + 1, ax * ay],
  ];
  for (let ch = 0; ch < 3; ch++) {
    let v = 0;
    for (const [px, py, wt] of taps) {
      if (px >= 0 && py >= 0 && px < src.width && py < src.height) v += src.data[(py * src.width + px) * 3 + ch]! * wt;
    }
    out[o + ch] = v + 0.5;
  }
}

/** Copy of a region at full resolution, clamped to the image (for crops with margin). */
export function cropImage(img: RgbImage, region: Region): RgbImage {
  const x0 = Math.max(0, Math.floor(region.x));
  const y0 = Math.max(0, Math.floor(region.y));
  const x1 = Math.min(img.width, Math.ceil(region.x + region.width));
  const y1 = Math.min(img.height, Math.ceil(region.y + region.height));
  const w = Math.max(1, x1 - x0);
  const h = Math.max(1, y1 - y0);
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h && y0 + y < img.height; y++) {
    const from = ((y0 + y) * img.width + x0) * 3;
    out.set(img.data.subarray(from, from + Math.min(w, img.width - x0) * 3), y * w * 3);
  }
  return { width: w, height: h, data: out };
}

/** Luma of an RGB image (BT.601 weights, 0..255 floats). */
export function toGrey(img: RgbImage): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(n);
  const d = img.data;
  for (let i = 0, p = 0; i < n; i++, p += 3) out[i] = 0.299 * d[p]! + 0.587 * d[p + 1]! + 0.114 * d[p + 2]!;
  return out;
}
