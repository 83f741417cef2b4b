/**
 * Synthetic CCTV footage for tests and benchmarks: face photos ("walkers") moving across a 1080p scene,
 * growing or shrinking as they approach or leave the camera, over sensor noise, H.264-compressed.
 * The placement of every walker at any time is known, so tests can check what the pipeline found.
 */
import { runCommand } from '../util/child.js';

export interface Placement {
  /** Seconds from the start of the video. */
  t: number;
  /** Top-left corner of the sprite in the frame. */
  x: number;
  y: number;
  /** Sprite width in frame pixels (height follows the crop's aspect ratio). */
  width: number;
}

export interface Walker {
  photo: string;
  /** The part of the photo shown (head and shoulders), in photo pixels. */
  crop: { x: number; y: number; width: number; height: number };
  /** Moves linearly from `from` to `to`; visible only between their times. */
  from: Placement;
  to: Placement;
}

export interface CctvOptions {
  seconds: number;
  walkers: Walker[];
  width?: number;
  height?: number;
  fps?: number;
  /** Temporal noise strength (ffmpeg noise filter, 0-100). */
  noise?: number;
  /** x264 constant rate factor: 23 good, 28 typical CCTV, 35 poor. */
  crf?: number;
  /** Constant bit rate instead of crf, like a camera's main stream (1080p: 2-6 Mbit/s). */
  bitrateKbps?: number;
  gop?: number;
  /** Seed of the background's random gradient (the video is the same for the same options). */
  seed?: number;
}

/** Where a walker's sprite is at time t (undefined when not visible). */
export function placementAt(w: Walker, t: number): Placement | undefined {
  if (t < w.from.t || t > w.to.t) return undefined;
  const k = w.to.t === w.from.t ? 0 : (t - w.from.t) / (w.to.t - w.from.t);
  const lerp = (a: number, b: number): number => a + (b - a) * k;
  return { t, x: lerp(w.from.x, w.to.x), y: lerp(w.from.y, w.to.y), width: lerp(w.from.width, w.to.width) };
}

/** Map a point of the photo to the frame at time t. */
export function photoToFrame(w: Walker, t: number, px: number, py: number): [number, number] | undefined {
  const p = placementAt(w, t);
  if (!p) return undefined;
  const s = p.width / w.crop.width;
  return [p.x + (px - w.crop.x) * s, p.y + (py - w.crop.y) * s];
}

const f = (x: number): string => x.toFixed(3);

export async function makeCctvVideo(out: string, o: CctvOptions): Promise<string> {
  const width = o.width ?? 1920;
  const height = o.height ?? 1080;
  const fps = o.fps ?? 25;
  const args = ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `gradients=s=${width}x${height}:r=${fps}:d=${o.seconds}:c0=0x4a5560:c1=0x8c8878:speed=0.002:seed=${o.seed ?? 1}`];
  for (const w of o.walkers) args.push('-loop', '1', '-framerate', String(fps), '-t', String(o.seconds), '-i', w.photo);
  const chains: string[] = [];
  let last = '0:v';
  o.walkers.forEach((w, i) => {
    const { from: a, to: b } = w;
    const span = Math.max(1e-3, b.t - a.t);
    const k = `(clip((t-${f(a.t)})/${f(span)},0,1))`;
    chains.push(
      `[${i + 1}:v]crop=${Math.round(w.crop.width)}:${Math.round(w.crop.height)}:${Math.round(w.crop.x)}:${Math.round(w.crop.y)},` +
        `scale=w='trunc((${f(a.width)}+${f(b.width - a.width)}*${k})/2)*2':h=-2:eval=frame[w${i}]`,
    );
    chains.push(`[${last}][w${i}]overlay=x='${f(a.x)}+${f(b.x - a.x)}*${k}':y='${f(a.y)}+${f(b.y - a.y)}*${k}':eval=frame:enable='between(t,${f(a.t)},${f(b.t)})'[o${i}]`);
    last = `o${i}`;
  });
  chains.push(`[${last}]noise=alls=${o.noise ?? 8}:allf=t,format=yuv420p[v]`);
  args.push('-filter_complex', chains.join(';'), '-map', '[v]', '-t', String(o.seconds));
  // No B-frames, like IP cameras' streams: RTP carries no decode timestamps, so B-frames could not be replayed
  // by the RTSP test camera.
  args.push('-c:v', 'libx264', '-preset', 'veryfast', '-bf', '0', '-g', String(o.gop ?? fps * 2));
  if (o.bitrateKbps) args.push('-b:v', `${o.bitrateKbps}k`, '-maxrate', `${o.bitrateKbps}k`, '-bufsize', `${2 * o.bitrateKbps}k`);
  else args.push('-crf', String(o.crf ?? 28));
  if (out.endsWith('.ts')) args.push('-f', 'mpegts');
  args.push(out);
  const r = await runCommand('ffmpeg', args, { timeoutMs: 20 * 60_000 });
  if (r.code !== 0) throw new Error(`ffmpeg could not make ${out}: ${r.stderr}`);
  return out;
}
