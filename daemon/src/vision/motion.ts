import type { Box } from './geometry.js';
import type { Pyramid, Region } from './image.js';

/** Pyramid level compared for motion: 1/8 size, where each pixel averages 64 and sensor noise fades. */
const MOTION_LEVEL = 3;

/**
 * Which tiles of a full scan are worth running. Shop cameras mostly look at a still scene: a face can only
 * appear where something changed since the last full scan, or where a face is already being followed. The
 * change is measured on a 1/8-size grey copy of the frame, where each pixel averages 64 and sensor noise
 * (std ~10 grey levels at full size) shrinks to ~1.3, so a threshold of ~10 grey levels sees people
 * move but not noise or compression. A person who stands still is still followed by their track's window,
 * and every `rescanEvery`-th full scan looks at every tile anyway.
 */
export class MotionGate {
  private previous: Float32Array | undefined;
  private width = 0;
  private height = 0;
  private scans = 0;

  constructor(
    private readonly threshold: number,
    private readonly rescanEvery: number,
  ) {}

  /** A filter for this full scan's tiles (or undefined: run them all), and remember this frame. */
  tileFilter(pyramid: Pyramid, trackBoxes: readonly Box[]): ((r: Region) => boolean) | undefined {
    const level = pyramid.level(MOTION_LEVEL);
    const factor = pyramid.width / level.width;
    const grey = new Float32Array(level.width * level.height);
    const d = level.data;
    for (let i = 0, p = 0; i < grey.length; i++, p += 3) grey[i] = 0.299 * d[p]! + 0.587 * d[p + 1]! + 0.114 * d[p + 2]!;
    const previous = this.previous;
    const sameSize = previous !== undefined && this.width === level.width && this.height === level.height;
    this.previous = grey;
    this.width = level.width;
    this.height = level.height;
    const full = this.threshold <= 0 || !sameSize || ++this.scans % this.rescanEvery === 0;
    if (full) return undefined;
    const moved = new Uint8Array(grey.length);
    for (let i = 0; i < grey.length; i++) moved[i] = Math.abs(grey[i]! - previous![i]!) > this.threshold ? 1 : 0;
    return (r: Region): boolean => {
      if (trackBoxes.some((b) => b[0] < r.x + r.width && b[2] > r.x && b[1] < r.y + r.height && b[3] > r.y)) return true;
      const x0 = Math.max(0, Math.floor(r.x / factor));
      const y0 = Math.max(0, Math.floor(r.y / factor));
      const x1 = Math.min(this.width, Math.ceil((r.x + r.width) / factor));
      const y1 = Math.min(this.height, Math.ceil((r.y + r.height) / factor));
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (moved[y * this.width + x]) return true;
      return false;
    };
  }
}
