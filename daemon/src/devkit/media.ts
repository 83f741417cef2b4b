/**
 * Tools for the demo, the tests and the benchmarks: RTSP test cameras, a private Mosquitto, media
 * fixtures. Never used by the daemon itself.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCommand } from '../util/child.js';

export interface VideoOptions {
  seconds: number;
  width?: number;
  height?: number;
  fps?: number;
  /** Keyframe interval in frames. */
  gop?: number;
  bitrateKbps?: number;
  /** ffmpeg lavfi source; default testsrc2 (moving pattern with a frame counter). */
  source?: string;
  /** Default h264; h265 needs an ffmpeg built with libx265 (H.265 cameras in benchmarks). */
  codec?: 'h264' | 'h265';
}

/** Encode a synthetic H.264 (or H.265) MPEG-TS (or .mp4 by extension) fixture with ffmpeg. */
export async function makeTestVideo(out: string, o: VideoOptions): Promise<string> {
  const w = o.width ?? 640;
  const h = o.height ?? 360;
  const fps = o.fps ?? 10;
  const src = o.source ?? `testsrc2=size=${w}x${h}:rate=${fps}`;
  const args = ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', src, '-t', String(o.seconds)];
  const h265 = o.codec === 'h265';
  args.push('-c:v', h265 ? 'libx265' : 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', String(o.gop ?? fps), '-keyint_min', String(o.gop ?? fps));
  if (h265) args.push('-x265-params', 'log-level=error:bframes=0'); // no B-frames, as most cameras
  if (o.bitrateKbps) args.push('-b:v', `${o.bitrateKbps}k`, '-maxrate', `${o.bitrateKbps}k`, '-bufsize', `${o.bitrateKbps * 2}k`);
  if (path.extname(out) === '.ts') args.push('-bsf:v', h265 ? 'hevc_mp4toannexb' : 'h264_mp4toannexb', '-f', 'mpegts');
  if (path.extname(out) === '.h264') args.push('-bsf:v', 'h264_mp4toannexb', '-f', 'h264');
  args.push(out);
  const r = await runCommand('ffmpeg', args, { timeoutMs: 10 * 60_000 });
  if (r.code !== 0) throw new Error(`ffmpeg could not make ${out}: ${r.stderr}`);
  return out;
}

/**
 * An H.264 MPEG-TS whose framing is valid (start codes, parameter sets, slice headers) but whose slice data is
 * random: it streams, parses and records like any camera, yet no frame decodes. With `goodSeconds`, the first
 * frames are left intact: the video turns to garbage after a good start.
 */
export async function makeGarbageVideo(out: string, o: VideoOptions & { goodSeconds?: number }): Promise<string> {
  const raw = `${out}.h264`;
  const fps = o.fps ?? 10;
  await makeTestVideo(raw, o);
  const b = readFileSync(raw);
  const starts: number[] = [];
  for (let k = 0; k + 3 < b.length; k++) if (b[k] === 0 && b[k + 1] === 0 && b[k + 2] === 1) starts.push((k += 2) + 1);
  const goodFrames = Math.round((o.goodSeconds ?? 0) * fps);
  let frame = 0;
  starts.forEach((start, i) => {
    const end = i + 1 < starts.length ? starts[i + 1]! - 3 : b.length;
    const nalType = b[start]! & 0x1f;
    if (nalType !== 1 && nalType !== 5) return; // keep SPS/PPS/SEI: only the picture data is garbage
    if (frame++ < goodFrames) return; // one slice per frame (x264's default)
    // keep the slice header's first bytes; never write a zero (no accidental start codes)
    for (let k = start + 8; k < end - 1; k++) b[k] = 1 + Math.floor(Math.random() * 255);
  });
  writeFileSync(raw, b);
  const r = await runCommand('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-r', String(fps), '-f', 'h264', '-i', raw, '-c', 'copy', '-f', 'mpegts', out], { timeoutMs: 10 * 60_000 });
  rmSync(raw, { force: true });
  if (r.code !== 0) throw new Error(`ffmpeg could not make ${out}: ${r.stderr}`);
  return out;
}

/**
 * Repeat an H.264 TS file by stream copy (no re-encode, continuous timestamps) until it lasts
 * `seconds`: long camera replays cost one short encode.
 */
export async function lengthenVideo(input: string, out: string, seconds: number): Promise<string> {
  const info = await probe(input);
  const loops = Math.max(0, Math.ceil(seconds / info.durationS) - 1);
  const args = ['-hide_banner', '-loglevel', 'error', '-y', '-stream_loop', String(loops), '-i', input, '-t', String(seconds), '-c', 'copy', '-f', 'mpegts', out];
  const r = await runCommand('ffmpeg', args, { timeoutMs: 10 * 60_000 });
  if (r.code !== 0) throw new Error(`ffmpeg could not lengthen ${input}: ${r.stderr}`);
  return out;
}

/**
 * Copy an MPEG-TS file with its timestamps moved to start at `startS` (seconds; written modulo the 33-bit
 * MPEG-TS clock, so a start just below 2^33 / 90 kHz makes a file that wraps). PCR and PTS are written
 * together (no mux delay) so a replay paced by the PCR sends each frame at its own time.
 */
export async function retimeVideo(input: string, out: string, startS: number): Promise<string> {
  const args = ['-hide_banner', '-loglevel', 'error', '-y', '-i', input, '-c', 'copy', '-output_ts_offset', String(startS), '-muxdelay', '0', '-muxpreload', '0', '-f', 'mpegts', out];
  const r = await runCommand('ffmpeg', args, { timeoutMs: 10 * 60_000 });
  if (r.code !== 0) throw new Error(`ffmpeg could not retime ${input}: ${r.stderr}`);
  return out;
}

export interface ProbeInfo {
  durationS: number;
  codec: string | undefined;
  width: number | undefined;
  height: number | undefined;
  frames: number | undefined;
}

/** ffprobe a media file; throws when it is not decodable media. */
export async function probe(file: string, countFrames = false): Promise<ProbeInfo> {
  const args = ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'format=duration:stream=codec_name,width,height,nb_read_frames', '-of', 'json'];
  if (countFrames) args.push('-count_frames');
  args.push(file);
  const r = await runCommand('ffprobe', args, { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`ffprobe ${file}: ${r.stderr.trim()}`);
  const j = JSON.parse(r.stdout.toString('utf8')) as {
    format?: { duration?: string };
    streams?: { codec_name?: string; width?: number; height?: number; nb_read_frames?: string }[];
  };
  const s = j.streams?.[0];
  return {
    durationS: Number(j.format?.duration ?? NaN),
    codec: s?.codec_name,
    width: s?.width,
    height: s?.height,
    frames: s?.nb_read_frames === undefined ? undefined : Number(s.nb_read_frames),
  };
}

/**
 * Decode every frame of a file; resolves to the error text ('' when it decodes cleanly). ffprobe decodes
 * without muxing: `ffmpeg -f null` would also report its own frame-timing complaints (a camera's first
 * frames after an RTSP (re)connect can sit one tick apart), which are not faults of the file.
 */
export async function decodeErrors(file: string): Promise<string> {
  const r = await runCommand('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file], { timeoutMs: 120_000 });
  return r.code === 0 ? r.stderr.trim() : `exit ${r.code}: ${r.stderr.trim()}`;
}
