import path from 'node:path';
import { runCommand } from '../util/child.js';
import { sandboxed, type SandboxMode } from '../util/sandbox.js';
import { cameraProblem, explainFfmpegFailure, type CameraProblem } from './ffmpeg-errors.js';
import { withCameraInput } from './camera-input.js';
import { rtspInputArgs } from './ffmpeg-input.js';
import { rtspPreflight } from './rtsp-preflight.js';
import type { CameraTarget } from './catalog.js';

export interface StreamReport {
  codec: string;
  profile: string | null;
  width: number;
  height: number;
  /**
   * Steady-state frame rate from the packets' timestamps: the first second is skipped (a camera's start-up burst
   * of buffered frames) and so are timestamp jumps.
   */
  fps: number | null;
  /** Seconds between keyframes (median); null when fewer than two keyframes arrived in the window. */
  keyframeIntervalS: number | null;
  bitrateKbps: number | null;
  /** The audio track's codec when the camera sends one (it is never recorded), else null. */
  audio: string | null;
  /** Things that work but that an installer should change, in plain words. */
  advice: string[];
  /** What would stop recording, in plain words (empty when the stream can be recorded). */
  problems: string[];
}

export type ProbeResult = { ok: true; stream: StreamReport } | { ok: false; problem: CameraProblem };

interface FfprobeJson {
  streams?: { index: number; codec_type?: string; codec_name?: string; profile?: string; width?: number; height?: number }[];
  packets?: { stream_index: number; pts_time?: string; dts_time?: string; size?: string; flags?: string }[];
}

/** It answers RTSP, yet no usable stream came before the deadline (e.g. it sends garbage after the handshake). */
function noStream(timeoutS: number): CameraProblem {
  return { ...cameraProblem('not_rtsp', timeoutS), message: 'the camera answers RTSP but no usable video arrived in time' };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Read a few seconds of the camera's stream and report codec, resolution, fps, keyframe interval and bitrate. */
export async function probeCamera(target: CameraTarget, options: { ffprobe: string; sandbox: SandboxMode; timeoutS: number; seconds: number }): Promise<ProbeResult> {
  const unanswered = await rtspPreflight(target, options.timeoutS * 1000);
  if (unanswered) return { ok: false, problem: unanswered };
  const { result: r, refused } = await withCameraInput(target, async (input) => {
    const args = [
      '-v', 'error',
      ...rtspInputArgs(target, input, options.timeoutS),
      '-read_intervals', `%+${options.seconds}`,
      '-show_entries', 'stream=index,codec_type,codec_name,profile,width,height:packet=stream_index,pts_time,dts_time,size,flags',
      '-of', 'json',
    ];
    const r = await runCommand(...sandboxed(options.sandbox, options.ffprobe, args), { timeoutMs: (options.timeoutS * 2 + options.seconds + 5) * 1000, maxStdoutBytes: 8 * 1024 * 1024 });
    return r;
  });
  if (refused) return { ok: false, problem: refused };
  if (r.timedOut) return { ok: false, problem: noStream(options.timeoutS) };
  let json: FfprobeJson = {};
  try {
    json = JSON.parse(r.stdout.toString('utf8') || '{}') as FfprobeJson;
  } catch {
    /* judged below from stderr */
  }
  const video = json.streams?.find((s) => s.codec_type === 'video');
  if (r.code !== 0 || !json.streams?.length) return { ok: false, problem: explainFfmpegFailure(r.stderr, options.timeoutS, target.secrets) };
  if (!video) return { ok: false, problem: explainFfmpegFailure('no video', options.timeoutS) };
  const audio = json.streams.find((s) => s.codec_type === 'audio');
  return { ok: true, stream: streamReport(video, (json.packets ?? []).filter((p) => p.stream_index === video.index), { seconds: options.seconds, audio: audio ? (audio.codec_name ?? 'unknown codec') : null }) };
}

/** Seconds at the start of the probe window whose frames do not count for the frame rate (start-up burst). */
const BURST_S = 1;
/** Codecs the recorder's MPEG-TS segments can carry by stream copy. */
const RECORDABLE_CODECS = new Set(['h264', 'hevc', 'mpeg4', 'mpeg2video']);

/** A step between frames this many typical intervals long, or more, is a skipped frame (not jitter). */
const SKIP_STEP = 1.75;

/**
 * Frames per second from presentation times, sorted (B-frames arrive out of order): over the frames after the
 * first second, leaving out steps that are not a frame interval (a timestamp jump, back or forward); a skipped
 * frame does not lower it.
 */
export function steadyFps(times: number[]): number | null {
  const sorted = [...times].sort((a, b) => a - b);
  const steady = sorted.filter((t) => t >= sorted[0]! + BURST_S);
  const use = steady.length > 2 ? steady : sorted;
  const steps = use.slice(1).map((t, i) => t - use[i]!).filter((d) => d > 0);
  if (steps.length === 0) return null;
  const typical = median(steps);
  // a step of clearly two or three intervals is a frame or two the camera skipped (busy encoder): it counts
  // as the intervals it spans, so the rate said is the one the camera is set to, not lowered by one skip.
  // A late frame and the early one after it (timestamps jittering on a busy camera) are one interval each:
  // counting the late one as two would raise the rate said.
  const kept = steps.filter((d) => d <= typical * 4);
  const intervals = kept.reduce((n, d) => n + (d >= typical * SKIP_STEP ? Math.round(d / typical) : 1), 0);
  const span = kept.reduce((a, b) => a + b, 0);
  return span > 0 ? intervals / span : null;
}

/** What `camera test` says about a camera's video track, from the packets ffprobe read in the probe window. */
export function streamReport(video: NonNullable<FfprobeJson['streams']>[number], packets: NonNullable<FfprobeJson['packets']>, o: { seconds: number; audio: string | null }): StreamReport {
  const seconds = o.seconds;
  const times = packets.map((p) => Number(p.pts_time ?? p.dts_time)).filter(Number.isFinite);
  const span = times.length > 1 ? Math.max(...times) - Math.min(...times) : 0;
  const fps = steadyFps(times);
  const keyTimes = packets.filter((p) => p.flags?.startsWith('K')).map((p) => Number(p.pts_time ?? p.dts_time)).filter(Number.isFinite).sort((a, b) => a - b);
  const intervals = keyTimes.slice(1).map((t, i) => t - keyTimes[i]!);
  const keyframeIntervalS = intervals.length ? median(intervals) : null;
  const bytes = packets.reduce((n, p) => n + Number(p.size ?? 0), 0);
  const bitrateKbps = span > 0 ? (bytes * 8) / span / 1000 : null;
  const advice: string[] = [];
  if (keyframeIntervalS === null && keyTimes.length > 0) advice.push(`fewer than two keyframes arrived in ${seconds} s: the keyframe (I-frame) interval is long; set it to 1-2 s in the camera so segments and incident clips start close to the wanted time`);
  else if (keyframeIntervalS !== null && keyframeIntervalS > 4) advice.push(`keyframes come every ${keyframeIntervalS.toFixed(1)} s: set the camera's I-frame interval to 1-2 s so segments and incident clips start close to the wanted time`);
  if (video.codec_name !== 'h264' && video.codec_name !== 'hevc' && RECORDABLE_CODECS.has(video.codec_name ?? '')) advice.push(`codec ${video.codec_name ?? 'unknown'} is unusual for CCTV: H.264 or H.265 is recommended`);
  if ((video.width ?? 0) * (video.height ?? 0) < 640 * 360) advice.push('the resolution is low for identifying faces: use the camera\'s main stream, not the sub-stream');
  return { codec: video.codec_name ?? 'unknown', profile: video.profile ?? null, width: video.width ?? 0, height: video.height ?? 0, fps, keyframeIntervalS, bitrateKbps, audio: o.audio, advice, problems: recordingProblems(video, packets, seconds) };
}

/** What would stop the recorder (stream copy into MPEG-TS segments cut on keyframes), in plain words. */
function recordingProblems(video: NonNullable<FfprobeJson['streams']>[number], packets: NonNullable<FfprobeJson['packets']>, seconds: number): string[] {
  const problems: string[] = [];
  const codec = video.codec_name ?? 'unknown';
  if (!RECORDABLE_CODECS.has(codec)) problems.push(`the video codec is ${codec}: it cannot be recorded without re-encoding; set the camera's stream to H.264 or H.265`);
  if (packets.length === 0) problems.push(`no video frame arrived in ${seconds} s: the camera describes a video track but sends nothing on it; check the stream path and the camera's encoder`);
  const stamped = (p: (typeof packets)[number]): boolean => Number.isFinite(Number(p.pts_time)) || Number.isFinite(Number(p.dts_time));
  // over RTSP the very first frame often has no time yet (it comes before the stream's clock is known): harmless
  const timed = packets.slice(Math.max(0, packets.findIndex(stamped)));
  const unstamped = timed.filter((p) => !stamped(p)).length;
  if (unstamped > 0) problems.push(`${unstamped} of ${timed.length} video frames carry no timestamp (neither presentation nor decoding time; B-frames sent without timing): footage cannot be placed in time; turn B-frames off in the camera (or pick the H.264 "baseline"/"main" profile without B-frames)`);
  if (packets.length > 0 && !packets.some((p) => p.flags?.startsWith('K'))) problems.push(`no keyframe arrived in ${seconds} s: segments are cut on keyframes, so recording would stall and restart; set the camera's I-frame interval to 1-2 s`);
  return problems;
}

/** Grab one decoded frame as a JPEG (consultation of footage: the caller audits it). */
export async function snapshotCamera(target: CameraTarget, out: string, options: { ffmpeg: string; sandbox: SandboxMode; timeoutS: number }): Promise<{ ok: true } | { ok: false; problem: CameraProblem }> {
  const unanswered = await rtspPreflight(target, options.timeoutS * 1000);
  if (unanswered) return { ok: false, problem: unanswered };
  const { result: r, refused } = await withCameraInput(target, async (input) => {
    const args = ['-hide_banner', '-loglevel', 'error', '-y', ...rtspInputArgs(target, input, options.timeoutS, { videoOnly: true }), '-map', '0:v:0', '-frames:v', '1', '-q:v', '3', '-f', 'image2', '-update', '1', out];
    // it sees only the folder it writes the picture to
    const r = await runCommand(...sandboxed(options.sandbox, options.ffmpeg, args, { write: [path.dirname(out)] }), { timeoutMs: (options.timeoutS * 2 + 10) * 1000 });
    return r;
  });
  if (refused) return { ok: false, problem: refused };
  if (r.timedOut) return { ok: false, problem: noStream(options.timeoutS) };
  if (r.code !== 0) return { ok: false, problem: explainFfmpegFailure(r.stderr, options.timeoutS, target.secrets) };
  return { ok: true };
}
