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
    private readonly options: { ffmpeg: string; timeoutS: number; log: Logger; onStop: () => void },
  ) {}

  async start(): Promise<void> {
    this.input = await openCameraInput(this.target);
    const args = [
      '-hide_banner', '-nostdin', '-loglevel', 'error',
      ...rtspInputArgs(this.target, this.input, this.options.timeoutS, { videoOnly: true }),
      '-map', '0:v:0', '-c:v', 'copy', '-an',
      '-f', 'mp4', '-movflags', 'frag_keyframe+empty_moov+default_base_moof', 'pipe:1',
    ];
    const child = spawnChild(...media(this.options.ffmpeg, args));
    this.child = child;
    child.proc.stdout?.on('data', (c: Buffer) => this.onData(c));
    child.proc.stderr?.on('data', (c: Buffer) => (this.stderr = (this.stderr + c.toString('utf8')).slice(-2000)));
    // every end goes through here: asked for (stop) or not (the camera went away)
    void child.exited.then(() => this.finish(this.stopped ? this.stopReason : `the camera stream ended${this.stderr ? `: ${this.stderr.trim().split('\n').pop()}` : ''}`));
    setTimeout(() => {
      if (!this.init && !this.stopped) void this.stop('the camera sent no picture in time');
    }, FIRST_PICTURE_MS).unref();
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
      else if (type === 'moov') {
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

/** The RFC 6381 codec string of an H.264 init segment (from its avcC box), e.g. avc1.64001f. */
export function codecOf(moov: Buffer): string {
  const at = moov.indexOf('avcC', 0, 'latin1');
  if (at < 0 || at + 8 > moov.length) return 'avc1.42E01E';
  const hex = (n: number): string => n.toString(16).padStart(2, '0');
  return `avc1.${hex(moov[at + 5]!)}${hex(moov[at + 6]!)}${hex(moov[at + 7]!)}`;
}

/** The box's live views: one stream per camera however many managers watch it. */
export class LiveViews {
  private readonly streams = new Map<string, LiveStream>();

  constructor(private readonly options: { ffmpeg: string; timeoutS: number; log: Logger }) {}

  /** Watch a camera; returns the function that stops watching. */
  async watch(cameraId: string, target: () => Promise<CameraTarget>, viewer: LiveViewer): Promise<() => void> {
    let stream = this.streams.get(cameraId);
    if (!stream) {
      const t = await target();
      stream = new LiveStream(cameraId, t, {
        ...this.options,
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
