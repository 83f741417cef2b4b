import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { INSTALL_ROOT } from '../config/paths.js';
import { HindsightError } from '../util/errors.js';
import type { RelayRefusal, RelayUpstream } from './rtsp-relay.js';

/** Orders to the relay process (relay-main.ts) and its replies, over the IPC channel. */
export type RelayRequest =
  | { t: 'open'; id: number; upstream: RelayUpstream; pathAndQuery: string; allowedUid: number | undefined; unpacedStartMs?: number }
  | { t: 'close'; id: number };
export type RelayReply =
  | { t: 'opened'; id: number; url: string }
  | { t: 'failed'; id: number; message: string }
  | { t: 'closed'; id: number; refusal: RelayRefusal | undefined };

/** The built relay process, also when the daemon's code is loaded from source (tests run after the build). */
const RELAY_MAIN = path.join(INSTALL_ROOT, 'daemon', 'dist', 'cameras', 'relay-main.js');
const OPEN_TIMEOUT_MS = 10_000;
const CLOSE_TIMEOUT_MS = 3_000;

interface Waiter<T> {
  resolve: (v: T) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Starts the relay process when a camera is first read, and again after it ended; keeps the daemon (or a CLI
 * command) alive only while a relay is open. A relay process that dies fails the reads in progress (ffmpeg's
 * connection drops, the recorder restarts the camera with its back-off) and the next read starts a new one.
 */
export class RelayHost {
  private child: ChildProcess | undefined;
  private seq = 0;
  private open_ = 0;
  private readonly opening = new Map<number, Waiter<string>>();
  private readonly closing = new Map<number, Waiter<RelayRefusal | undefined>>();

  /** Open a relay to `upstream`; resolves to the URL ffmpeg is given. `unpacedStartMs`: see RtspRelay.open. */
  open(upstream: RelayUpstream, pathAndQuery: string, options: { unpacedStartMs?: number } = {}): Promise<{ id: number; url: string }> {
    const child = this.process();
    const id = ++this.seq;
    this.open_ += 1;
    this.reference();
    return new Promise<{ id: number; url: string }>((resolve, reject) => {
      const timer = setTimeout(() => this.settle(this.opening, id, new HindsightError('the camera relay did not answer in time', { code: 'relay' })), OPEN_TIMEOUT_MS);
      this.opening.set(id, { resolve: (url) => resolve({ id, url }), reject, timer });
      this.send(child, { t: 'open', id, upstream, pathAndQuery, allowedUid: process.getuid?.(), unpacedStartMs: options.unpacedStartMs });
    }).catch((err: Error) => {
      this.released();
      throw err;
    });
  }

  /** Close a relay; resolves to what it refused on the box's behalf (a redirect), if anything. */
  close(id: number): Promise<RelayRefusal | undefined> {
    const child = this.child;
    if (!child) {
      this.released();
      return Promise.resolve(undefined);
    }
    return new Promise<RelayRefusal | undefined>((resolve) => {
      const timer = setTimeout(() => this.settle(this.closing, id, undefined), CLOSE_TIMEOUT_MS);
      this.closing.set(id, { resolve, reject: () => resolve(undefined), timer });
      this.send(child, { t: 'close', id });
    }).finally(() => this.released());
  }

  /** End the relay process (the daemon is stopping); the next read would start a new one. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }

  private process(): ChildProcess {
    if (this.child) return this.child;
    // stdout unused; stderr shared with the daemon (journald); the IPC channel carries orders and credentials
    const child = fork(RELAY_MAIN, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [] });
    child.on('message', (m: RelayReply) => {
      if (m.t === 'opened') this.settle(this.opening, m.id, m.url);
      else if (m.t === 'failed') this.settle(this.opening, m.id, new HindsightError(`the camera relay could not open: ${m.message}`, { code: 'relay' }));
      else if (m.t === 'closed') this.settle(this.closing, m.id, m.refusal);
    });
    const gone = (why: string): void => {
      if (this.child !== child) return;
      this.child = undefined;
      for (const id of [...this.opening.keys()]) this.settle(this.opening, id, new HindsightError(`the camera relay stopped (${why})`, { code: 'relay' }));
      for (const id of [...this.closing.keys()]) this.settle(this.closing, id, undefined);
    };
    child.on('exit', (code, signal) => gone(signal ? `signal ${signal}` : `exit ${code}`));
    child.on('error', (err) => gone(err.message));
    this.child = child;
    return child;
  }

  private send(child: ChildProcess, m: RelayRequest): void {
    try {
      child.send(m);
    } catch {
      /* the exit handler fails what waits */
    }
  }

  private settle<T>(map: Map<number, Waiter<T>>, id: number, value: T | Error): void {
    const w = map.get(id);
    if (!w) return;
    map.delete(id);
    clearTimeout(w.timer);
    if (value instanceof Error) w.reject(value);
    else w.resolve(value);
  }

  /** While a relay is open, the relay process keeps this process alive; when none is, it does not. */
  private reference(): void {
    this.child?.ref();
    this.child?.channel?.ref();
  }

  private released(): void {
    this.open_ = Math.max(0, this.open_ - 1);
    if (this.open_ === 0) {
      this.child?.unref();
      this.child?.channel?.unref();
    }
  }
}

let host: RelayHost | undefined;
/** The process's one relay host. */
export function relayHost(): RelayHost {
  host ??= new RelayHost();
  return host;
}
