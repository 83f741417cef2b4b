import path from 'node:path';
import { runCommand } from '../util/child.js';
import { sandboxed, type SandboxMode } from '../util/sandbox.js';
import { cameraProblem, explainFfmpegFailure, type CameraProblem } from './ffmpeg-errors.js';
import { withCameraInput } from './camera-input.js';
import { rtspInputArgs } from './ffmpeg-input.js';
import { rtspPreflight } from './rtsp-preflight.js';
import type { CameraTarget } from './service.js';

export interface StreamReport {
  codec: string;
  profile: string | null;
  width: number;
  height: number;
  /** Measured from packet timestamps over the probe window. */
  fps: number | null;
  /** Seconds between keyframes (median); null when fewer than two keyframes arrived in the window. */
  keyframeIntervalS: number | null;
  bitrateKbps: number | null;
  /** Things that work but that an installer should change, in plain words. */
  advice: string[];
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
  return { ok: true, stream: report(video, (json.packets ?? []).filter((p) => p.stream_index === video.index), options.seconds) };
}

function report(video: NonNullable<FfprobeJson['streams']>[number], packets: NonNullable<FfprobeJson['packets']>, seconds: number): StreamReport {
  const times = packets.map((p) => Number(p.pts_time ?? p.dts_time)).filter(Number.isFinite);
  const span = times.length > 1 ? Math.max(...times) - Math.min(...times) : 0;
  const fps = span > 0 ? (times.length - 1) / span : null;
  const keyTimes = packets.filter((p) => p.flags?.startsWith('K')).map((p) => Number(p.pts_time ?? p.dts_time)).filter(Number.isFinite).sort((a, b) => a - b);
  const intervals = keyTimes.slice(1).map((t, i) => t - keyTimes[i]!);
  const keyframeIntervalS = intervals.length ? median(intervals) : null;
  const bytes = packets.reduce((n, p) => n + Number(p.size ?? 0), 0);
  const bitrateKbps = span > 0 ? (bytes * 8) / span / 1000 : null;
  const advice: string[] = [];
  if (keyframeIntervalS === null) advice.push(`fewer than two keyframes arrived in ${seconds} s: the keyframe (I-frame) interval is long; set it to 1-2 s in the camera so segments and incident clips start close to the wanted time`);
  else if (keyframeIntervalS > 4) advice.push(`keyframes come every ${keyframeIntervalS.toFixed(1)} s: set the camera's I-frame interval to 1-2 s so segments and incident clips start close to the wanted time`);
  if (video.codec_name !== 'h264' && video.codec_name !== 'hevc') advice.push(`codec ${video.codec_name ?? 'unknown'} is unusual for CCTV: H.264 or H.265 is recommended`);
  if ((video.width ?? 0) * (video.height ?? 0) < 640 * 360) advice.push('the resolution is low for identifying faces: use the camera\'s main stream, not the sub-stream');
  return { codec: video.codec_name ?? 'unknown', profile: video.profile ?? null, width: video.width ?? 0, height: video.height ?? 0, fps, keyframeIntervalS, bitrateKbps, advice };
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
