import type { Logger } from 'pino';
import type { CameraTarget } from '../cameras/catalog.js';
import { openCameraInput, type CameraInput } from '../cameras/camera-input.js';
import { rtspInputArgs } from '../cameras/ffmpeg-input.js';
import { spawnChild, type ChildHandle } from '../util/child.js';
import { media } from '../util/sandbox.js';

/** How long a stream outlives its last viewer (a page reload does not restart the camera session). */
const LINGER_MS = 2000;
/** How long a new stream may take to send its first picture before the viewer is told why not. */
const FIRST_PICTURE_MS = 15_000;

/**
 * How a camera's video reaches the browser. `copy`: the camera's own H.264, never decoded (almost no CPU).
 * `transcode`: for H.265 cameras, which most browsers cannot play without hardware decoding: decoded and
 * re-encoded as a small H.264 for watching only (evidence is always the camera's own stream).
 */
export type LiveMode = 'copy' | 'transcode';

/** The transcode's limits: enough to see what is happening, cheap enough for a 2-core box (README, "Live view"). */
const TRANSCODE_MAX_WIDTH = 640;
const TRANSCODE_MAX_FPS = 10;

/**
 * ffmpeg's output options for each mode. The transcode drops frames first (fps) so the scaler and encoder
 * see at most 10 a second, scales to at most 640 px wide keeping the aspect (both sides even, as H.264 needs),
 * and forces 8-bit 4:2:0 (a Main 10 camera would otherwise give High 10, which browsers do not play). x264's
 * ultrafast/zerolatency on one thread, a keyframe every second (each is a fragment, so a new viewer waits at
 * most a second), the rate capped so the view stays usable over the shop's Wi-Fi.
 */
const OUTPUT_ARGS: Record<LiveMode, string[]> = {
  copy: ['-c:v', 'copy'],
  transcode: [
    '-vf', `fps=${TRANSCODE_MAX_FPS},scale='trunc(min(${TRANSCODE_MAX_WIDTH},iw)/2)*2':-2:flags=fast_bilinear,format=yuv420p`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-threads', '1',
    '-force_key_frames', 'expr:gte(t,n_forced)',
    '-crf', '28', '-maxrate', '1000k', '-bufsize', '1000k',
  ],
};

export interface LiveViewer {
  /** The stream's MIME type with its codec, once known (for the browser's MediaSource). */
  ready(mime: string): void;
  data(chunk: Buffer): void;
  end(reason: string | undefined): void;
}

/**
 * One camera's live stream: ffmpeg copies the camera's H.264 into fragmented MP4 (no transcode: a
 * fragment per keyframe), read through the camera relay like the recorder. The init segment (ftyp+moov)
 * is kept so a viewer who joins later starts at the next fragment. Started by the first viewer, stopped
 * LINGER_MS after the last one leaves.
 *
 * H.265 is found from what the copy produced, not guessed beforehand: the init segment's sample entry
 * (hvc1/hev1) says exactly what the camera sends, at no cost to H.264 cameras (no probe before every start,
 * which would add seconds and a second RTSP session to each). When it is H.265, the copy is stopped before
 * any viewer gets a byte and the stream starts again as a transcode; LiveViews remembers it so the camera's
 * later live views start straight as a transcode.
 */
class LiveStream {
  private child: ChildHandle | undefined;
  private input: CameraInput | undefined;
  private init: Buffer | undefined;
  private mime: string | undefined;
  private pending: Buffer = Buffer.alloc(0);
  private readonly viewers = new Set<LiveViewer>();
  private readonly waiting = new Set<LiveViewer>();
  private linger: NodeJS.Timeout | undefined;
  private stopped = false;
  private stopReason: string | undefined;
  private finished = false;
  private stderr = '';

  constructor(
    readonly cameraId: string,
    private readonly target: CameraTarget,
    private mode: LiveMode,
    private readonly options: { ffmpeg: string; timeoutS: number; log: Logger; onStop: () => void; onTranscoded: () => void },
  ) {}

  async start(): Promise<void> {
    await this.spawn();
    setTimeout(() => {
      if (!this.init && !this.stopped) void this.stop('the camera sent no picture in time');
    }, FIRST_PICTURE_MS).unref();
  }

  /** Start ffmpeg in the current mode, with its own relay to the camera. */
  private async spawn(): Promise<void> {
    const input = await openCameraInput(this.target);
    this.input = input;
    if (this.mode === 'transcode') {
      this.options.log.info(
        { service: 'web', camera: this.cameraId },
        `live view of camera ${this.cameraId} is transcoded because its codec is H.265 (most browsers cannot play it): sent as H.264, at most ${TRANSCODE_MAX_WIDTH} px wide and ${TRANSCODE_MAX_FPS} fps`,
      );
    }
    const args = [
      '-hide_banner', '-nostdin', '-loglevel', 'error',
      // one decoding thread too: a live view must not take both cores of the box from the recorder
      ...(this.mode === 'transcode' ? ['-threads', '1'] : []),
      ...rtspInputArgs(this.target, input, this.options.timeoutS, { videoOnly: true }),
      '-map', '0:v:0', ...OUTPUT_ARGS[this.mode], '-an',
      '-f', 'mp4', '-movflags', 'frag_keyframe+empty_moov+default_base_moof', 'pipe:1',
    ];
    const child = spawnChild(...media(this.options.ffmpeg, args));
    this.child = child;
    this.stderr = '';
    // stopped while the relay was opening (the box stopping, or the viewer gone during a switch to transcode)
    if (this.stopped) void child.stop({ graceMs: 1000 });
    // output of a child that was replaced (the copy of an H.265 camera) is dropped
    child.proc.stdout?.on('data', (c: Buffer) => child === this.child && this.onData(c));
    child.proc.stderr?.on('data', (c: Buffer) => child === this.child && (this.stderr = (this.stderr + c.toString('utf8')).slice(-2000)));
    // every end goes through here: asked for (stop) or not (the camera went away); not a replaced child's
    void child.exited.then(() => {
      if (child === this.child) this.finish(this.stopped ? this.stopReason : `the camera stream ended${this.stderr ? `: ${this.stderr.trim().split('\n').pop()}` : ''}`);
    });
  }

  /** The camera sends H.265: stop the copy (no viewer has had any of it) and start the transcode instead. */
  private async switchToTranscode(): Promise<void> {
    const copy = this.child;
    const copyInput = this.input;
    this.child = undefined;
    this.input = undefined;
    this.init = undefined;
    this.mime = undefined;
    this.pending = Buffer.alloc(0);
    this.mode = 'transcode';
    this.options.onTranscoded();
    try {
      // the copy ends first: many cameras allow only a few RTSP sessions at once
      await copy?.stop({ graceMs: 1000 });
      await copyInput?.close();
      if (this.stopped) return this.finish(this.stopReason);
      await this.spawn();
    } catch (err) {
      this.finish(`the live view could not restart as a transcode: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** A viewer gets the init segment now if it is known (else with it), then fragments from the next keyframe. */
  add(v: LiveViewer): void {
    clearTimeout(this.linger);
    if (this.init && this.mime) {
      v.ready(this.mime);
      v.data(this.init);
    }
    this.waiting.add(v);
  }

  remove(v: LiveViewer): void {
    this.viewers.delete(v);
    this.waiting.delete(v);
    if (this.viewers.size + this.waiting.size === 0) {
      clearTimeout(this.linger);
      this.linger = setTimeout(() => void this.stop(undefined), LINGER_MS);
    }
  }

  async stop(reason: string | undefined): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopReason = reason;
    clearTimeout(this.linger);
    await this.child?.stop({ graceMs: 1000 });
  }

  private finish(reason: string | undefined): void {
    if (this.finished) return;
    this.finished = true;
    this.stopped = true;
    for (const v of [...this.viewers, ...this.waiting]) v.end(reason);
    this.viewers.clear();
    this.waiting.clear();
    void this.input?.close();
    this.options.onStop();
  }

  /** Split ffmpeg's output into top-level MP4 boxes: the init segment, then fragments (moof + mdat). */
  private onData(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let fragment: Buffer[] = [];
    for (;;) {
      if (this.pending.length < 8) break;
      const size = this.pending.readUInt32BE(0);
      const type = this.pending.toString('latin1', 4, 8);
      if (size < 8) return void this.stop('the live stream is not valid MP4');
      if (this.pending.length < size) break;
      const box = this.pending.subarray(0, size);
      this.pending = this.pending.subarray(size);
      if (type === 'ftyp') this.init = Buffer.from(box);
      else if (type === 'moov' && this.mode === 'copy' && H265_SAMPLE_ENTRIES.has(sampleEntryOf(box) ?? '')) {
        return void this.switchToTranscode();
      } else if (type === 'moov') {
        this.init = Buffer.concat([this.init ?? Buffer.alloc(0), box]);
        this.mime = `video/mp4; codecs="${codecOf(box)}"`;
        for (const v of this.waiting) {
          v.ready(this.mime);
          v.data(this.init);
        }
      } else if (type === 'moof') fragment = [Buffer.from(box)];
      else if (type === 'mdat' && fragment.length) {
        const whole = Buffer.concat([...fragment, box]);
        fragment = [];
        for (const v of this.waiting) this.viewers.add(v);
        this.waiting.clear();
        for (const v of this.viewers) v.data(whole);
      }
    }
    // a moof waits for its mdat
    if (fragment.length) this.pending = Buffer.concat([...fragment, this.pending]);
  }
}

/** The sample entries of H.265 in MP4 (parameter sets in the sample description only, or also in the stream). */
const H265_SAMPLE_ENTRIES = new Set(['hvc1', 'hev1']);

/** The contents of the first box of `type` among the boxes that make up `payload`, or undefined. */
function childBox(payload: Buffer, type: string): Buffer | undefined {
  for (let at = 0; at + 8 <= payload.length; ) {
    const size = payload.readUInt32BE(at);
    // 0 (to the end) and 1 (64-bit size) are not written by ffmpeg for these boxes: treated as not found
    if (size < 8 || at + size > payload.length) return undefined;
    if (payload.toString('latin1', at + 4, at + 8) === type) return payload.subarray(at + 8, at + size);
    at += size;
  }
  return undefined;
}

/**
 * The four-character code of the video's sample entry in an init segment's moov box (avc1, hvc1, hev1...):
 * moov > trak > mdia > minf > stbl > stsd, whose first entry it is. The live stream has one track only.
 */
export function sampleEntryOf(moov: Buffer): string | undefined {
  let box: Buffer | undefined = moov.subarray(8);
  for (const type of ['trak', 'mdia', 'minf', 'stbl', 'stsd']) box = box && childBox(box, type);
  // stsd: version and flags (4 bytes), entry count (4), then the first entry: size (4), type (4)
  return box && box.length >= 16 ? box.toString('latin1', 12, 16) : undefined;
}

/**
 * The RFC 6381 codec string of an H.264 init segment (from its avcC box), e.g. avc1.64001f. What is sent is
 * always H.264: the camera's own, or the transcode of an H.265 camera.
 */
export function codecOf(moov: Buffer): string {
  const at = moov.indexOf('avcC', 0, 'latin1');
  if (at < 0 || at + 8 > moov.length) return 'avc1.42E01E';
  const hex = (n: number): string => n.toString(16).padStart(2, '0');
  return `avc1.${hex(moov[at + 5]!)}${hex(moov[at + 6]!)}${hex(moov[at + 7]!)}`;
}

/** The box's live views: one stream per camera however many managers watch it. */
export class LiveViews {
  private readonly streams = new Map<string, LiveStream>();
  /**
   * Cameras found to send H.265, by id and address (a new address is found out again), so their later live
   * views start as a transcode at once. In memory: a restart finds out again, at the cost of one short copy.
   */
  private readonly transcoded = new Set<string>();

  constructor(private readonly options: { ffmpeg: string; timeoutS: number; log: Logger }) {}

  /** Watch a camera; returns the function that stops watching. */
  async watch(cameraId: string, target: () => Promise<CameraTarget>, viewer: LiveViewer): Promise<() => void> {
    let stream = this.streams.get(cameraId);
    if (!stream) {
      const t = await target();
      const key = `${cameraId} ${t.camera.url}`;
      stream = new LiveStream(cameraId, t, this.transcoded.has(key) ? 'transcode' : 'copy', {
        ...this.options,
        onTranscoded: () => this.transcoded.add(key),
        onStop: () => {
          if (this.streams.get(cameraId) !== stream) return;
          this.streams.delete(cameraId);
          this.options.log.info({ service: 'web', camera: cameraId }, `live view of camera ${cameraId} stopped`);
        },
      });
      this.streams.set(cameraId, stream);
      this.options.log.info({ service: 'web', camera: cameraId }, `live view of camera ${cameraId} started`);
      await stream.start().catch(async (err: unknown) => {
        this.streams.delete(cameraId);
        throw err;
      });
    }
    const s = stream;
    s.add(viewer);
    return () => s.remove(viewer);
  }

  /** Cameras being watched now. */
  active(): string[] {
    return [...this.streams.keys()];
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.streams.values()].map((s) => s.stop('the box is stopping')));
  }
}
