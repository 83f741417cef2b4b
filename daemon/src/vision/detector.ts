import type ort from 'onnxruntime-node';
import { nms, suppressContained, type Box, type ScoredBox } from './geometry.js';
import { sampleRegion, type Pyramid, type Region } from './image.js';
import { tensor } from './models.js';

/** The detector's fixed input (Ultra-Light RFB-320): 320x240 RGB, (x - 127) / 128, CHW. */
export const DET_W = 320;
export const DET_H = 240;

export interface DetectorOptions {
  scoreThreshold: number;
  nmsIou: number;
  /** Candidates kept per pass before NMS (highest scores). */
  topK: number;
  /** Downscale factors of the tile passes; a tile covers 320*s x 240*s frame pixels. */
  tileScales: number[];
  /** Fraction by which neighbouring tiles overlap. */
  tileOverlap: number;
}

export interface Detection extends ScoredBox {
  /** Which pass found it: whole frame, a tile at scale s, or a search window around a track. */
  pass: string;
}

/** A box with more than this share of its area inside a better box is part of that face, not another. */
const CONTAINED = 0.6;

/**
 * Smallest face box (px, at the detector's input) found reliably: the small-face test's faces (12-16 px
 * between the eyes, boxes of 30-40 px) are 15-20 px in the scale-2 tiles, and all 40 are found.
 */
const RELIABLE_FACE_PX = 16;

/**
 * The tile scales worth running on a width x height frame. A pass adds nothing when the next finer pass's
 * tiles overlap enough to hold whole every face too small for the next coarser pass (a face cut by a tile
 * is dropped; the overlap decides the largest face some tile always holds whole). In 1080p the whole-frame
 * pass (downscale 6) finds faces from 96 px and the scale-2 tiles hold whole every face up to 120 px, so the
 * scale-4 tiles are skipped (measured: every face they found, the scale-2 tiles found too); in 4K they run.
 */
export function tileScalesFor(width: number, height: number, options: Pick<DetectorOptions, 'tileScales' | 'tileOverlap'>): number[] {
  const frameScale = Math.max(width / DET_W, height / DET_H);
  const scales = [...new Set(options.tileScales)].filter((s) => tileRegions(width, height, s, options.tileOverlap).length > 0).sort((a, b) => a - b);
  const kept: number[] = [];
  for (const [i, s] of scales.entries()) {
    const finer = kept[kept.length - 1];
    const coarser = scales[i + 1] ?? frameScale;
    // the largest face some tile of the finer pass holds whole: its overlap, in frame pixels
    const wholeUpTo = finer === undefined ? 0 : options.tileOverlap * Math.min(DET_W, DET_H) * finer;
    if (finer !== undefined && wholeUpTo >= RELIABLE_FACE_PX * coarser) continue;
    kept.push(s);
  }
  return kept;
}

/** The regions of one tile pass at downscale `scale`, overlapping, covering the whole frame. */
export function tileRegions(width: number, height: number, scale: number, overlap: number): Region[] {
  const tw = DET_W * scale;
  const th = DET_H * scale;
  // a pass whose tile is as large as the frame adds nothing to the whole-frame pass
  if (tw >= width && th >= height) return [];
  const w = Math.min(tw, width);
  const h = Math.min(th, height);
  // positions on the grid of the pyramid level the tile is sampled from, so sampling is a plain copy
  const grid = scale >= 2 ? 2 ** Math.floor(Math.log2(scale)) : 1;
  const positions = (size: number, tile: number): number[] => {
    if (tile >= size) return [0];
    const n = Math.ceil((size - tile) / (tile * (1 - overlap))) + 1;
    return Array.from({ length: n }, (_, i) => Math.min(size - tile, Math.round(((size - tile) * i) / (n - 1) / grid) * grid));
  };
  const out: Region[] = [];
  for (const y of positions(height, h)) for (const x of positions(width, w)) out.push({ x, y, width: w, height: h });
  return out;
}

/**
 * Input buffers given back after their run (a run takes ~1 MB; a full scan of 1080p makes 13 runs): reused instead
 * of left to the garbage collector. A buffer is taken per call, so concurrent calls never share one.
 */
const spareInputs: Float32Array[] = [];

/** Detector input tensor for a region of the frame (resampled to 320x240). */
function inputFor(pyramid: Pyramid, region: Region): Float32Array {
  const img = sampleRegion(pyramid, region, DET_W, DET_H);
  const plane = DET_W * DET_H;
  const out = spareInputs.pop() ?? new Float32Array(3 * plane);
  const d = img.data;
  for (let i = 0, p = 0; i < plane; i++, p += 3) {
    out[i] = (d[p]! - 127) / 128;
    out[plane + i] = (d[p + 1]! - 127) / 128;
    out[2 * plane + i] = (d[p + 2]! - 127) / 128;
  }
  return out;
}

/**
 * Run the detector on one region. Boxes come out already decoded (x1,y1,x2,y2 in 0..1 of the input).
 * A box touching an inner edge of the region (an edge that is not the frame's edge) is a face cut by the
 * tile: it is dropped, because the overlapping neighbour tile or the whole-frame pass sees it whole.
 */
export async function detectRegion(session: ort.InferenceSession, pyramid: Pyramid, region: Region, options: DetectorOptions, pass: string): Promise<Detection[]> {
  const input = inputFor(pyramid, region);
  const out = await session.run({ [session.inputNames[0]!]: tensor(input, [1, 3, DET_H, DET_W]) }).finally(() => {
    if (spareInputs.length < 4) spareInputs.push(input);
  });
  const scores = out.scores!.data as Float32Array;
  const boxes = out.boxes!.data as Float32Array;
  const n = scores.length / 2;
  const found: Detection[] = [];
  const margin = 2; // frame px
  const innerLeft = region.x > 0;
  const innerTop = region.y > 0;
  const innerRight = region.x + region.width < pyramid.width;
  const innerBottom = region.y + region.height < pyramid.height;
  for (let i = 0; i < n; i++) {
    const score = scores[2 * i + 1]!;
    if (score < options.scoreThreshold) continue;
    const box: Box = [
      region.x + boxes[4 * i]! * region.width,
      region.y + boxes[4 * i + 1]! * region.height,
      region.x + boxes[4 * i + 2]! * region.width,
      region.y + boxes[4 * i + 3]! * region.height,
    ];
    if (box[2] <= box[0] || box[3] <= box[1]) continue;
    if (pass !== 'frame') {
      if ((innerLeft && box[0] <= region.x + margin) || (innerTop && box[1] <= region.y + margin)) continue;
      if ((innerRight && box[2] >= region.x + region.width - margin) || (innerBottom && box[3] >= region.y + region.height - margin)) continue;
    }
    found.push({ box, score, pass });
  }
  found.sort((a, b) => b.score - a.score);
  return nms(found.slice(0, options.topK), options.nmsIou);
}

/**
 * Whole frame plus every tile pass (`fullScan`; `tileFilter` may skip tiles where nothing moved), plus
 * any extra windows, merged by NMS: faces from ~12 px to full-frame eye distance.
 */
export async function detectFaces(
  session: ort.InferenceSession,
  pyramid: Pyramid,
  options: DetectorOptions,
  extraRegions: Region[] = [],
  fullScan = true,
  tileFilter: (r: Region) => boolean = () => true,
): Promise<Detection[]> {
  const all: Detection[] = [];
  if (fullScan) {
    const whole = { x: 0, y: 0, width: pyramid.width, height: pyramid.height };
    all.push(...(await detectRegion(session, pyramid, whole, options, 'frame')));
    for (const scale of tileScalesFor(pyramid.width, pyramid.height, options)) {
      for (const r of tileRegions(pyramid.width, pyramid.height, scale, options.tileOverlap).filter(tileFilter)) all.push(...(await detectRegion(session, pyramid, r, options, `tile${scale}`)));
    }
  }
  for (const r of extraRegions) all.push(...(await detectRegion(session, pyramid, r, options, 'track')));
  return suppressContained(nms(all, options.nmsIou), CONTAINED);
}

/**
 * A search window around a face expected at `box`: about 4 face widths wide, never smaller than the
 * detector input (so a small face is seen at full resolution), 4:3, shifted to stay inside the frame.
 */
export function searchRegion(box: Box, width: number, height: number): Region {
  const fw = Math.max(box[2] - box[0], box[3] - box[1]);
  let w = Math.max(DET_W, 4 * fw);
  let h = (w * DET_H) / DET_W;
  if (w > width || h > height) {
    const k = Math.min(width / w, height / h);
    w *= k;
    h *= k;
  }
  const cx = (box[0] + box[2]) / 2;
  const cy = (box[1] + box[3]) / 2;
  const x = Math.min(Math.max(0, cx - w / 2), width - w);
  const y = Math.min(Math.max(0, cy - h / 2), height - h);
  return { x, y, width: w, height: h };
}
