import path from 'node:path';
import type { CameraInput } from '../cameras/camera-input.js';
import { rtspInputArgs } from '../cameras/ffmpeg-input.js';
import type { CameraTarget } from '../cameras/catalog.js';

export interface RunFiles {
  /** The camera's folder in the buffer. */
  dir: string;
  runId: string;
}

/** `<run>_%06d.ts`: the run id keeps names unique across restarts (strftime names only have 1 s resolution). */
export const segmentPattern = (runId: string): string => `${runId}_%06d.ts`;
export const segmentListName = (runId: string): string => `${runId}.csv`;
/** Matches the files a run writes; group 1 is the run id. */
export const RUN_FILE = /^([0-9A-Z]{26})(?:_(\d{6,})\.ts|\.csv)$/;

/** Everything one recording ffmpeg is told. One function so each flag is documented once. */
export function recordArgs(target: CameraTarget, input: CameraInput, files: RunFiles, o: { segmentSeconds: number; timeoutS: number }): string[] {
  return [
    '-hide_banner',
    // Errors only on stderr (kept as the reason of the next failure); no per-frame status line.
    '-loglevel', 'error', '-nostats',
    // key=value progress on stdout: the frame counter is the recorder's activity signal and fps. A quarter of the
    // stall timeout (0.5-2 s) is often enough to notice a stall in time, and rare enough to cost nothing.
    '-progress', 'pipe:1', '-stats_period', String(Math.min(2, Math.max(0.5, o.timeoutS / 4))),
    ...rtspInputArgs(target, input, o.timeoutS, { videoOnly: true }),
    // First video stream, bit for bit: no decode, no re-encode (about 1 % of a core per camera).
    '-map', '0:v:0', '-c', 'copy',
    // The camera's clock as a steady output clock (see steadyClock).
    '-bsf:v', steadyClock(o.timeoutS),
    '-f', 'segment',
    // Segments cut at the first keyframe after this many seconds; real durations come from the list.
    '-segment_time', String(o.segmentSeconds),
    // MPEG-TS survives kill -9 (a partial MP4 is unreadable).
    '-segment_format', 'mpegts',
    // Write each packet as it comes so a killed ffmpeg loses at most a frame...
    '-segment_format_options', 'flush_packets=1',
    // ...and do not hold packets back for muxer interleaving.
    '-muxdelay', '0', '-muxpreload', '0',
    // The live CSV list: one "file,start,end" line as each segment closes (times on the stream's clock).
    '-segment_list', path.join(files.dir, segmentListName(files.runId)),
    '-segment_list_type', 'csv',
    '-segment_list_flags', '+live',
    path.join(files.dir, segmentPattern(files.runId)),
  ];
}

/**
 * The setts bitstream filter that turns the camera's timestamps into a clock that only moves forward with the
 * footage. Each packet's decode time advances by the camera's own step from the previous packet when that step is
 * plausible: more than zero and less than `maxStepS` (the stall timeout: a real silence longer than that ends the
 * run). Two packets with the same time (a camera's first frames after a connect can be) are one tick apart, as
 * ffmpeg itself would make them. Any other step is the camera's clock jumping (a reset sets it back, a wrong clock
 * sets it forward) and advances by one frame instead. Without this a jump back holds every following packet at the last time (ffmpeg
 * "corrects" non-monotonic times) until the camera's clock catches up: no segment closes and the footage is lost.
 * The presentation time keeps the packet's reorder delay (B-frames), bounded to [0, maxStepS).
 *
 * RTP carries no decode times: with B-frames (H.264 or H.265) the first packets reach the muxer without a pts and
 * the MPEG-TS muxer would refuse the whole stream ("first pts and dts value must be set"); such a packet is shown
 * at its decode time.
 */
export function steadyClock(maxStepS: number): string {
  const c = '\\,'; // a comma inside an expression (a bare one would separate filters)
  const step = 'DTS-PREV_INDTS';
  const dts = `if(eq(PREV_INDTS${c}NOPTS)${c}DTS${c}PREV_OUTDTS+if(gt(${step}${c}0)*lt(${step}${c}${maxStepS}/TB)${c}${step}${c}if(eq(${step}${c}0)${c}1${c}max(DURATION${c}1))))`;
  const pts = `${dts}+clip(if(eq(PTS${c}NOPTS)${c}DTS${c}PTS)-DTS${c}0${c}${maxStepS}/TB)`;
  return `setts=dts=${dts}:pts=${pts}`;
}
