import { availableParallelism } from 'node:os';
import { decodeFrames, segmentSeekS, type DecodeOutcome, type VideoFrame, type VideoInfo } from './frame-source.js';
import type { VisionOptions } from './options.js';
import type { ClipInput } from './result.js';

/** A stretch of one camera's clip analysed as one job (long clips are cut so the cores share them). */
export interface Segment {
  clip: ClipInput;
  clipIndex: number;
  index: number;
  info: VideoInfo;
  startS: number;
  /** Seconds analysed; undefined = to the end of the clip. */
  durationS: number | undefined;
  /**
   * Where the decoder seeks to (see `segmentSeekS`), looked up before the segment reaches a worker; null =
   * no keyframe found (a blind pre-roll), undefined = not looked up yet (the worker does).
   */
  seekS?: number | null;
}

/** A segment's decoder, started: ffmpeg runs from the moment it is opened, and its first frame is on the way. */
export interface SegmentDecode {
  frames: AsyncGenerator<VideoFrame>;
  /** The first frame (the analysis awaits it; a failure is seen there). */
  first: Promise<IteratorResult<VideoFrame>>;
  /** ffmpeg's warnings, once the frames have all been read. */
  outcome: DecodeOutcome;
}

/**
 * Start decoding a segment at `options.fps`. Light on purpose (no models, no image libraries): a worker
 * starts its decoder with this before it loads the analysis code, so ffmpeg works while the rest loads.
 */
export async function openSegment(seg: Segment, options: VisionOptions, signal?: AbortSignal): Promise<SegmentDecode> {
  // the cores are shared between the workers' decoders and models: one decoder thread per spare core
  const threads = Math.max(1, Math.floor(availableParallelism() / options.workers));
  const seekS = seg.seekS === undefined ? await segmentSeekS(options.ffprobe, seg.clip.file, seg.info, seg.startS) : (seg.seekS ?? undefined);
  const outcome: DecodeOutcome = { warnings: [] };
  const frames = decodeFrames(options.ffmpeg, seg.clip.file, seg.info, options.fps, outcome, { startS: seg.startS, durationS: seg.durationS, seekS }, signal, threads, options.vaapiDevice);
  const first = frames.next();
  // seen where the analysis awaits it; until then a failure must not count as unhandled
  first.catch(() => undefined);
  return { frames, first, outcome };
}
