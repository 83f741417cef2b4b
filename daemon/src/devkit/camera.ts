import path from 'node:path';
import { INSTALL_ROOT } from '../config/paths.js';
import { ManagedProcess } from './process.js';
import { RtpClockProxy, type RtpClockFaults } from './rtp-jump.js';

const SCRIPT = path.join(INSTALL_ROOT, 'scripts', 'rtsp-test-camera.py');

export interface CameraOptions {
  /**
   * file: the file's H.264 replayed as RTP H.264; mp2t: the MPEG-TS file itself over RTP, its own timestamps
   * kept (cameras that send MPEG-TS); audio: an audio-only stream, i.e. a camera URL without a video track.
   */
  mode?: 'live' | 'file' | 'mp2t' | 'audio';
  file?: string;
  width?: number;
  height?: number;
  fps?: number;
  bitrateKbps?: number;
  gop?: number;
  pattern?: string;
  codec?: 'h264' | 'h265';
  /** B-frames between reference frames (0: none). */
  bframes?: number;
  /** An audio track beside the video. */
  audio?: boolean;
  /** First RTP timestamp of the video (e.g. just before the 32-bit wrap). */
  rtpTimestampOffset?: number;
  /**
   * A camera whose clock jumps back (a clock reset): clients reach it through a proxy that sets back the RTP
   * timestamps of every track at this interval. RTSP over TCP only.
   */
  clockFaults?: RtpClockFaults;
  user?: string;
  password?: string;
  /** Authentication scheme asked of a client when `user` is set (default basic). */
  auth?: 'basic' | 'digest';
  /** Reuse a port (bring a camera back after an outage). 0 or undefined picks a free one. */
  port?: number;
}

/**
 * A GStreamer RTSP test camera on 127.0.0.1 (demo, tests, benchmarks). `kill9()` drops it, `pause()`/`resume()` stall it
 * silently, `restart()` brings it back on the same port.
 */
export class RtspTestCamera {
  private proc: ManagedProcess | undefined;
  private proxy: RtpClockProxy | undefined;
  /** The camera's own port (behind the proxy when there is one). */
  port = 0;

  constructor(private readonly options: CameraOptions = {}) {}

  get url(): string {
    return `rtsp://127.0.0.1:${this.proxy?.port ?? this.port}/stream`;
  }

  /** When (wall clock, ms) the camera's clock jumped so far (a camera with `clockFaults`). */
  get clockJumpsAtMs(): readonly number[] {
    return this.proxy?.jumpedAtMs ?? [];
  }

  get pid(): number {
    return this.proc?.pid ?? -1;
  }

  async start(): Promise<this> {
    const o = this.options;
    const args = [SCRIPT, '--port', String(this.port || o.port || 0), '--mode', o.mode ?? 'live'];
    if (o.file) args.push('--file', o.file);
    if (o.width) args.push('--width', String(o.width));
    if (o.height) args.push('--height', String(o.height));
    if (o.fps) args.push('--fps', String(o.fps));
    if (o.bitrateKbps) args.push('--bitrate', String(o.bitrateKbps));
    if (o.gop) args.push('--gop', String(o.gop));
    if (o.pattern) args.push('--pattern', o.pattern);
    if (o.codec) args.push('--codec', o.codec);
    if (o.bframes) args.push('--bframes', String(o.bframes));
    if (o.audio) args.push('--audio');
    if (o.rtpTimestampOffset !== undefined) args.push('--rtp-ts-offset', String(o.rtpTimestampOffset));
    if (o.user) args.push('--user', o.user, '--password', o.password ?? '', '--auth', o.auth ?? 'basic');
    // /usr/bin/python3: a python3 earlier on PATH may not see the gi bindings
    this.proc = new ManagedProcess('/usr/bin/python3', args);
    const m = await this.proc.waitForLine(/^READY (\d+)/, 20_000);
    this.port = Number(m[1]);
    if (o.clockFaults && !this.proxy) this.proxy = await new RtpClockProxy(this.port, o.clockFaults).start();
    return this;
  }

  async kill9(): Promise<void> {
    await this.proc?.kill9();
  }

  pause(): void {
    this.proc?.pause();
  }

  resume(): void {
    this.proc?.resume();
  }

  async restart(): Promise<void> {
    await this.proc?.kill9();
    await this.start();
  }

  async stop(): Promise<void> {
    await this.proxy?.stop();
    await this.proc?.stop();
  }
}

export async function startCamera(options: CameraOptions = {}): Promise<RtspTestCamera> {
  return new RtspTestCamera(options).start();
}
