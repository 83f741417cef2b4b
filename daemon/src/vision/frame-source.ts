import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCommand, spawnChild } from '../util/child.js';
import { HindsightError } from '../util/errors.js';
import { lastKeyframeAtOrBefore } from '../util/keyframes.js';
import type { RgbImage } from './image.js';
import { media } from '../util/sandbox.js';

export interface VideoInfo {
  width: number;
  height: number;
  durationS: number;
  /** Frames the decoder will give at the analysis rate (an estimate from the duration, for progress). */
  expectedFrames: number;
  /** The stream's first timestamp, s: packet times count from it, ffmpeg's -ss from 0. */
  startTimeS: number;
}

export interface VideoFrame {
  /** 0-based index of the analysed frame. */
  index: number;
  /** Time since the start of the decoded range, ms (frames come at exact multiples of 1/fps). */
  timeMs: number;
  image: RgbImage;
  /**
   * Give the frame's pixels back for reuse by a later frame, once nothing holds on to them (optional: a
   * frame not released is simply garbage collected).
   */
  release(): void;
}

/**
 * Frames decoded ahead of the analysis. A pipe holds only 64 KiB (1 % of a 1080p frame), so without a
 * read-ahead ffmpeg would sit idle while a frame is analysed and the analysis would then wait for it.
 * Two frames let decoding overlap analysis at a bounded cost (2 x 6 MB at 1080p).
 */
const PREFETCH_FRAMES = 2;

/**
 * Longer than any camera's keyframe interval (1-4 s): the pre-roll of a segment whose keyframes are not
 * known (see `segmentSeekS`), and how far back they are looked for.
 */
const SEEK_PREROLL_S = 5;

/** Largest frame accepted (8K); beyond that a file is more likely hostile than a camera. */
const MAX_PIXELS = 7680 * 4320;

/** Width, height and duration of the first video stream; a clear error when the file is not a video. */
export async function probeVideo(ffprobe: string, file: string, fps: number): Promise<VideoInfo> {
  const r = await runCommand(...media(ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height,start_time:format=duration', '-of', 'json', file], { read: [file] }), { timeoutMs: 60_000 });
  const fail = (why: string): HindsightError =>
    new HindsightError(`${file}: ${why}`, { code: 'video_unreadable', hint: 'give a video file a camera recorded (MPEG-TS, MP4, MKV with H.264/H.265)' });
  if (r.code !== 0) throw fail(`not a readable video (${lastLine(r.stderr) || `ffprobe exit ${r.code}`})`);
  let j: { streams?: { width?: number; height?: number; start_time?: string }[]; format?: { duration?: string } };
  try {
    j = JSON.parse(r.stdout.toString('utf8'));
  } catch {
    throw fail('not a readable video (ffprobe gave no information)');
  }
  const s = j.streams?.[0];
  if (!s?.width || !s.height) throw fail('has no video stream');
  if (s.width * s.height > MAX_PIXELS) throw fail(`frame size ${s.width}x${s.height} is larger than 8K`);
  const durationS = Number(j.format?.duration ?? NaN);
  const startTimeS = Number(s.start_time ?? 0);
  return {
    width: s.width,
    height: s.height,
    durationS: Number.isFinite(durationS) ? durationS : 0,
    expectedFrames: Number.isFinite(durationS) ? Math.max(1, Math.round(durationS * fps)) : 0,
    startTimeS: Number.isFinite(startTimeS) ? startTimeS : 0,
  };
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop()?.trim() ?? '';
}

/**
 * Where to seek the input to decode a segment starting at `startS` (seconds from the clip's start): the
 * last keyframe at or before it, so the decoder decodes at most one keyframe interval it does not need,
 * instead of the blind SEEK_PREROLL_S.
 * Undefined (use the blind pre-roll) when no keyframe is found in the SEEK_PREROLL_S before `startS`.
 * Reads only the packet headers of that stretch: one short ffprobe.
 */
export async function segmentSeekS(ffprobe: string, file: string, info: VideoInfo, startS: number): Promise<number | undefined> {
  if (startS <= 0) return undefined;
  return lastKeyframeAtOrBefore(ffprobe, file, startS, { startTimeS: info.startTimeS, lookBackS: SEEK_PREROLL_S });
}

export interface DecodeOutcome {
  /** ffmpeg's error lines (a damaged stretch of the clip), empty when it decoded cleanly. */
  warnings: string[];
}

/**
 * Decode a clip to raw RGB frames at `fps` through a pipe with back-pressure: the stream is paused while
 * `PREFETCH_FRAMES` frames wait for the analysis, so ffmpeg blocks and memory stays bounded whatever the
 * clip's length. ffmpeg still decodes every frame (H.264 needs them) but
 * converts and copies only the ones the fps filter keeps.
 */
export async function* decodeFrames(
  ffmpeg: string,
  file: string,
  info: VideoInfo,
  fps: number,
  outcome: DecodeOutcome,
  range: DecodeRange = { startS: 0, durationS: undefined },
  signal?: AbortSignal,
  threads = 0,
  vaapiDevice?: string,
): AsyncGenerator<VideoFrame> {
  if (vaapiDevice) {
    // on the GPU where it can; a clip it cannot start decoding (no device, no driver, a codec it lacks) is
    // decoded in software, and the analysis says so
    let started = false;
    try {
      for await (const frame of decodeRange(ffmpeg, file, info, fps, outcome, range, signal, threads, vaapiDevice)) {
        started = true;
        yield frame;
      }
      return;
    } catch (err) {
      if (started || signal?.aborted || (err as HindsightError).code !== 'video_undecodable') throw err;
      outcome.warnings.push(`hardware decoding (VA-API, ${vaapiDevice}) failed, decoded in software: ${(err as Error).message.replace(`${file}: `, '')}`);
    }
  }
  yield* decodeRange(ffmpeg, file, info, fps, outcome, range, signal, threads, undefined);
}

export interface DecodeRange {
  startS: number;
  durationS: number | undefined;
  seekS?: number | undefined;
}

/** GPU decoding through VA-API: frames stay on the GPU through the fps filter; only the kept ones come down. */
function vaapiArgs(device: string | undefined): { input: string[]; filter: string } {
  if (!device) return { input: [], filter: '' };
  return { input: ['-hwaccel', 'vaapi', '-hwaccel_device', device, '-hwaccel_output_format', 'vaapi'], filter: ',hwdownload,format=nv12' };
}

async function* decodeRange(
  ffmpeg: string,
  file: string,
  info: VideoInfo,
  fps: number,
  outcome: DecodeOutcome,
  range: DecodeRange,
  signal: AbortSignal | undefined,
  threads: number,
  vaapiDevice: string | undefined,
): AsyncGenerator<VideoFrame> {
  // Seeking in MPEG-TS can land up to a keyframe interval after the asked time, losing frames. So seek
  // early (to `seekS`, before a known keyframe, else SEEK_PREROLL_S early: output time 0 is then exactly
  // the asked point) and drop the pre-roll on the output side: frames come out on the same 1/fps grid,
  // identical to a decode from the start.
  // The fps filter's grid starts at the seek point: the timestamps are shifted as if the seek had been to
  // a whole number of analysis frames before the start, so the grid falls on the same times as in a
  // decode from the start.
  const preSeek = Math.max(0, Math.min(range.startS, range.seekS ?? range.startS - SEEK_PREROLL_S));
  const gridStart = Math.max(0, range.startS - Math.ceil((range.startS - preSeek) * fps - 1e-6) / fps);
  const shift = preSeek - gridStart;
  const seek = preSeek > 0 ? ['-ss', preSeek.toFixed(3)] : [];
  const skip = range.startS > gridStart ? ['-ss', (range.startS - gridStart).toFixed(3)] : [];
  const hw = vaapiArgs(vaapiDevice);
  const filter = `${shift > 1e-6 ? `setpts=PTS+${shift.toFixed(6)}/TB,` : ''}fps=${fps}${hw.filter}`;
  const length = range.durationS !== undefined ? ['-t', range.durationS.toFixed(3)] : [];
  // warnings too: a damaged stretch of a TS file shows only as 'Packet corrupt' warnings
  // threads 0 = ffmpeg's choice; with several decoders at once one thread each avoids oversubscription
  // Frames reach this process through a Unix socket ffmpeg listens on, read straight into the frame buffers
  // (no chunk copies, no per-chunk allocations): a third of the CPU a stdout pipe costs (see FrameReader).
  const dir = mkdtempSync(path.join(tmpdir(), 'hindsight-frames-'));
  const socketPath = path.join(dir, 'frames.sock');
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'warning', '-threads', String(threads), ...hw.input, ...seek, '-i', file, ...skip, ...length, '-map', '0:v:0', '-an', '-sn', '-dn', '-vf', filter, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-listen', '1', `unix:${socketPath}`];
  // decoding a camera's bytes is where a hostile stream would strike: in the sandbox, seeing only the clip
  // (and the folder of the frames' socket)
  const child = spawnChild(...media(ffmpeg, args, { read: [file], write: [dir], devices: vaapiDevice ? [vaapiDevice] : [] }), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.proc.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString('utf8')).slice(-8192);
  });
  const onAbort = (): void => void child.stop({ graceMs: 500 });
  signal?.addEventListener('abort', onAbort, { once: true });
  const frames = new FrameReader(info.width * info.height * 3, PREFETCH_FRAMES);
  let index = 0;
  try {
    await frames.connect(socketPath, child.exited, signal);
    for (;;) {
      const data = await frames.next();
      if (!data) break;
      yield { index, timeMs: (index * 1000) / fps, image: { width: info.width, height: info.height, data }, release: () => frames.recycle(data) };
      index++;
    }
    const exit = await child.exited;
    signal?.throwIfAborted();
    const errors = stderr.trim().split('\n').filter((l) => l.trim());
    if (index === 0 && (exit.code !== 0 || errors.length)) {
      throw new HindsightError(`${file}: no frame could be decoded (${errors.pop() ?? `ffmpeg exit ${exit.code}`})`, { code: 'video_undecodable', hint: 'the clip is damaged; check it plays, or extract it again' });
    }
    outcome.warnings.push(...[...new Set(errors.map((l) => l.replace(/ @ 0x[0-9a-f]+/, '')))].slice(-20));
  } finally {
    signal?.removeEventListener('abort', onAbort);
    frames.close();
    if (child.running) await child.stop({ graceMs: 500 });
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Frame buffers kept for reuse: the read-ahead plus the context frames of a few tracks that just moved on. */
const SPARE_FRAMES = PREFETCH_FRAMES + 2;

/** Longest wait for ffmpeg to open the frames' socket (it opens it when the first frame is decoded). */
const CONNECT_TIMEOUT_MS = 120_000;

/**
 * Reads ffmpeg's raw frames from its Unix socket straight into fixed-size frame buffers (the socket's
 * `onread` buffer is the unfilled rest of the current frame), pausing the socket while `ahead` frames wait
 * for the analysis, so ffmpeg blocks and memory stays bounded whatever the clip's length. Measured on a
 * 30 s 1080p segment at 5 fps: 0.34 CPU s against 0.7-1.3 s through a stdout pipe, whose 64 KiB chunks
 * were each allocated, then copied into the frame.
 */
class FrameReader {
  private readonly ready: Uint8Array[] = [];
  /** Frames given back by the consumer, reused instead of allocating 6 MB per 1080p frame (less GC). */
  private readonly free: Uint8Array[] = [];
  private current: Uint8Array;
  private filled = 0;
  private socket: net.Socket | undefined;
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly frameBytes: number,
    private readonly ahead: number,
  ) {
    this.current = new Uint8Array(frameBytes);
  }

  /**
   * Connect to the socket ffmpeg listens on, trying again (5 ms, doubling to 100 ms) until it is there.
   * Ends the stream without frames if ffmpeg exits first (its exit code and stderr say why).
   */
  async connect(socketPath: string, exited: Promise<unknown>, signal: AbortSignal | undefined): Promise<void> {
    let gone = false;
    void exited.then(() => (gone = true));
    const deadline = Date.now() + CONNECT_TIMEOUT_MS;
    for (let delay = 5; ; delay = Math.min(100, delay * 2)) {
      signal?.throwIfAborted();
      if (gone) {
        // ffmpeg ended without opening the socket (it writes nothing before this connection, so no frame is
        // lost): no frames, and its exit code and stderr say why
        this.finish();
        return;
      }
      const socket = await this.tryConnect(socketPath);
      if (socket) {
        this.socket = socket;
        return;
      }
      if (Date.now() > deadline) throw new HindsightError(`the decoder did not open its frames' socket within ${CONNECT_TIMEOUT_MS / 1000} s`, { code: 'video_undecodable', hint: 'the clip is damaged or the machine is overloaded; try again' });
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  private tryConnect(socketPath: string): Promise<net.Socket | undefined> {
    return new Promise((resolve) => {
      const socket = net.connect({
        path: socketPath,
        onread: { buffer: () => this.current.subarray(this.filled), callback: (n: number) => this.received(n) },
      });
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        socket.on('end', () => this.finish());
        socket.on('close', () => this.finish());
        socket.on('error', (err: Error) => {
          this.failure = err;
          this.finish();
        });
        resolve(socket);
      });
      // not there yet (ENOENT) or not listening yet (ECONNREFUSED)
      socket.once('error', () => {
        socket.destroy();
        resolve(undefined);
      });
    });
  }

  /** `n` more bytes landed in the current frame; false pauses the socket (enough frames wait). */
  private received(n: number): boolean {
    this.filled += n;
    if (this.filled === this.frameBytes) {
      this.ready.push(this.current);
      this.current = this.free.pop() ?? new Uint8Array(this.frameBytes);
      this.filled = 0;
    }
    this.signal();
    return this.ready.length < this.ahead;
  }

  private finish(): void {
    this.ended = true;
    this.signal();
  }

  private signal(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  close(): void {
    this.socket?.destroy();
  }

  /** Take back a frame the consumer no longer uses (nothing may read or keep it afterwards). */
  recycle(frame: Uint8Array): void {
    if (frame.length === this.frameBytes && this.free.length < SPARE_FRAMES && !this.free.includes(frame)) this.free.push(frame);
  }

  /** The next whole frame, or undefined at the end of the stream (a trailing partial frame is dropped). */
  async next(): Promise<Uint8Array | undefined> {
    for (;;) {
      const frame = this.ready.shift();
      if (frame) {
        if (this.ready.length < this.ahead) this.socket?.resume();
        return frame;
      }
      if (this.failure) throw this.failure;
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }
}
