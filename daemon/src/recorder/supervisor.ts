import type { SegmentListEntry } from './segment-list.js';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { openCameraInput } from '../cameras/camera-input.js';
import { rtspPreflight } from '../cameras/rtsp-preflight.js';
import type { CameraTarget } from '../cameras/catalog.js';
import type { CameraStatus, RecorderState } from '../db/repos/camera-status.js';
import type { Segment } from '../db/repos/segments.js';
import type { Clock } from '../util/clock.js';
import { errorMessage, HindsightError } from '../util/errors.js';
import { newId } from '../util/ids.js';
import { sandboxProblem } from '../util/sandbox.js';
import { Backoff } from './backoff.js';
import { RunCursor, type CameraIndex } from './camera-index.js';
import { DecodeWatch, type DecodeChecker, type DecodeVerdict } from './decode-check.js';
import { recordArgs } from './ffmpeg-args.js';
import { finishRun } from './run-files.js';
import { explainRunEnd } from './run-outcome.js';
import { RecorderRun, type RunEnd } from './run.js';
import type { RecorderSettings } from './settings.js';

/** The live status of one camera's recorder (stored as a camera_status row with the boot id and time). */
export type RecorderStatus = Omit<CameraStatus, 'bootId' | 'updatedUtcMs'>;

export interface CameraRecorderDeps {
  cameraId: string;
  settings: RecorderSettings;
  index: CameraIndex;
  /** Resolves and checks the camera's URL again before every start. */
  target: () => Promise<CameraTarget>;
  clock: Clock;
  log: Logger;
  /** Called on every state change (`changed`) and every status period. */
  onStatus: (status: RecorderStatus, changed: boolean) => void;
  /** A database write failed (its reason) or worked (undefined). */
  onWrite?: (error: string | undefined) => void;
  /** The decode check changed its mind about the camera's video. */
  onDecodable?: (verdict: DecodeVerdict) => void;
  /** Runs the decode checks of all cameras (none without it, or with `decodeCheckIntervalMs` 0). */
  decodeChecker?: DecodeChecker;
}

const CONNECTING = 'connecting to the camera';

/** Failed decode checks in a row before a camera is called undecodable (one bad segment is not a camera fault). */
const DECODE_FAILURES_TO_JUDGE = 2;
/** Good checks in a row, after a (re)start or a failed check, before only one segment per interval is checked. */
const DECODE_PASSES_TO_TRUST = 3;

/** Not recording for this many rtsp timeouts turns `reconnecting` into `failed`: a person should look. */
const FAILED_AFTER_TIMEOUTS = 3;

/**
 * Keeps one camera recording: start ffmpeg, watch it, restart it on ANY exit with capped exponential backoff
 * and jitter, and never start ffmpeg against a camera that does not answer RTSP at all (a cheap OPTIONS request
 * is polled instead, so a camera back from an outage is recording again within about a second, without a
 * restart storm while it is away). Gaps are opened when recording stops and closed by the next segment.
 */
export class CameraRecorder {
  private state: RecorderState = 'reconnecting';
  private reason: string | null = CONNECTING;
  private sinceUtcMs: number;
  private notRecordingSince: number;
  private spawns = 0;
  private fps: number | null = null;
  private bitrateKbps: number | null = null;
  private run: RecorderRun | undefined;
  private stopping: string | undefined;
  private haltReason: string | undefined;
  private wake = new AbortController();
  private loopDone: Promise<void> | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private frameMark = { frames: 0, at: 0 };
  private readonly backoff: Backoff;
  private readonly startedUtcMs: number;
  private lastSegmentEnd: number | undefined;
  private readonly decodeWatch: DecodeWatch;
  private unwatchDecode: (() => void) | undefined;
  /** Why the video does not decode, while the decode check says so. */
  private undecodable: string | undefined;

  constructor(private readonly deps: CameraRecorderDeps) {
    const s = deps.settings;
    this.backoff = new Backoff(s.restartInitialMs, s.restartMaxMs);
    this.decodeWatch = new DecodeWatch({ intervalMs: s.decodeCheckIntervalMs, failuresToJudge: DECODE_FAILURES_TO_JUDGE, passesToTrust: DECODE_PASSES_TO_TRUST, onVerdict: (v) => this.onDecodeVerdict(v) });
    this.startedUtcMs = deps.clock.now();
    this.sinceUtcMs = this.startedUtcMs;
    this.notRecordingSince = performance.now();
  }

  get cameraId(): string {
    return this.deps.cameraId;
  }

  start(): void {
    this.publish(true);
    this.statusTimer = setInterval(() => this.tick(), this.deps.settings.statusIntervalMs);
    this.statusTimer.unref();
    if (this.deps.decodeChecker && this.deps.settings.decodeCheckIntervalMs > 0) this.unwatchDecode = this.deps.decodeChecker.watch(this.decodeWatch);
    this.loopDone = this.loop();
  }

  /** Stop recording for good; the gap opened now carries `reason` (daemon stopped, camera disabled...). */
  async stop(reason: string): Promise<void> {
    this.stopping = reason;
    clearInterval(this.statusTimer);
    this.unwatchDecode?.();
    this.poke();
    await this.run?.stop();
    await this.loopDone;
  }

  /** Stop recording until `resume()` (retention: locked footage fills the quota). State: failed with the reason. */
  halt(reason: string): void {
    if (this.haltReason === reason) return;
    this.haltReason = reason;
    this.setState('failed', reason);
    void this.run?.stop();
    this.poke();
  }

  resume(): void {
    if (this.haltReason === undefined) return;
    this.haltReason = undefined;
    this.setState('reconnecting', 'resuming after the alarm cleared');
    this.poke();
  }

  status(): RecorderStatus {
    return {
      cameraId: this.cameraId,
      state: this.state,
      reason: this.reason,
      sinceUtcMs: this.sinceUtcMs,
      fps: this.isRecording() ? this.fps : null,
      bitrateKbps: this.isRecording() ? this.bitrateKbps : null,
      lastSegmentEndUtcMs: this.lastSegmentEnd ?? null,
      spawns: this.spawns,
    };
  }

  private async loop(): Promise<void> {
    this.lastSegmentEnd = this.deps.index.newest()?.endUtcMs;
    while (!this.stopping) {
      try {
        if (this.haltReason) {
          this.notRecording(this.haltReason);
          await this.sleep(Number.POSITIVE_INFINITY);
          continue;
        }
        const unsandboxable = sandboxProblem(this.deps.settings.sandbox);
        if (unsandboxable) throw new HindsightError(unsandboxable, { code: 'sandbox' });
        const target = await this.deps.target();
        if (!(await this.waitUntilAnswering(target))) continue;
        const end = await this.record(target);
        if (this.stopping || this.haltReason) continue;
        const problem = explainRunEnd(end, this.deps.settings, target.secrets);
        this.notRecording(problem.message);
        this.setState(problem.transient && this.state !== 'failed' ? 'reconnecting' : 'failed', problem.message);
        this.deps.log.warn({ camera: this.cameraId, problem: problem.code, reason: problem.message, frames: end.frames, exit: end.exit }, `camera ${this.cameraId}: ${problem.message}; reconnecting`);
        await this.sleep(this.backoff.next());
      } catch (err) {
        const message = err instanceof HindsightError ? err.message : `recorder error: ${errorMessage(err)}`;
        this.deps.log.error({ camera: this.cameraId, err }, `camera ${this.cameraId}: ${message}`);
        try {
          this.notRecording(message);
        } catch (gapErr) {
          // the database is busy or full: the gap is opened on the next attempt
          this.deps.onWrite?.(errorMessage(gapErr));
        }
        this.setState('failed', message);
        await this.sleep(this.backoff.next());
      }
    }
    this.notRecording(this.stopping);
  }

  private async record(target: CameraTarget): Promise<RunEnd> {
    const { index, settings: s, clock } = this.deps;
    mkdirSync(index.cameraDir, { recursive: true, mode: 0o750 });
    const cursor = new RunCursor(newId());
    let unindexed: SegmentListEntry[] = [];
    // ffmpeg reads the camera through a relay that holds the credentials and refuses redirects
    const input = await openCameraInput(target);
    let end: RunEnd;
    let run: RecorderRun;
    try {
      run = new RecorderRun({
        ffmpeg: s.ffmpeg,
        sandbox: s.sandbox,
        args: recordArgs(target, input, { dir: index.cameraDir, runId: cursor.runId }, { segmentSeconds: s.segmentSeconds, timeoutS: s.rtspTimeoutS }),
        dir: index.cameraDir,
        runId: cursor.runId,
        clock,
        frameTimeoutMs: s.rtspTimeoutS * 1000,
        startupTimeoutMs: (2 * s.rtspTimeoutS + 5) * 1000,
        segmentTimeoutMs: s.stallTimeoutS * 1000,
        memoryMb: s.memoryMb,
        onSegments: (entries, wall) => {
          // A database error (e.g. a long lock by another process) must not lose listed segments or crash the
          // daemon: keep them and try again with the next list change; indexing the same line twice is a no-op.
          const batch = [...unindexed, ...entries];
          unindexed = [];
          try {
            for (const segment of index.indexBatch(cursor, batch, wall)) this.onSegment(segment);
            this.deps.onWrite?.(undefined);
          } catch (err) {
            unindexed = batch;
            this.deps.onWrite?.(errorMessage(err));
            this.deps.log.error({ camera: this.cameraId, run: cursor.runId, err, waiting: batch.length }, 'cannot index segments now; will try again');
          }
        },
        onFirstFrame: () => {
          this.frameMark = { frames: 0, at: 0 };
          this.setRecording();
        },
        onStall: (cause) => {
          if (this.isRecording()) this.setState('reconnecting', cause === 'no_frames' ? 'the camera stopped sending video' : 'the recording stalled');
        },
      });
      this.run = run;
      this.spawns += 1;
      this.decodeWatch.runStarted();
      this.deps.log.debug({ camera: this.cameraId, run: cursor.runId, pid: run.pid }, 'ffmpeg started');
      if (this.stopping || this.haltReason) void run.stop();
      end = await run.done;
    } catch (err) {
      await input.close();
      throw err;
    }
    const refused = await input.close();
    if (refused) end = { ...end, refused };
    this.run = undefined;
    await finishRun(index, cursor, run.tail, clock.now());
    this.lastSegmentEnd = index.newest()?.endUtcMs ?? this.lastSegmentEnd;
    // a run that died after a frame or two is a failure like any other: only a segment's worth of footage counts
    if (cursor.recordedMs >= s.segmentSeconds * 1000) this.backoff.reset();
    return end;
  }

  private onSegment(segment: Segment): void {
    this.lastSegmentEnd = segment.endUtcMs;
    this.decodeWatch.segmentClosed(path.join(this.deps.index.cameraDir, path.basename(segment.path)));
    const seconds = (segment.endUtcMs - segment.startUtcMs) / 1000;
    if (seconds > 0.2) this.bitrateKbps = (segment.bytes * 8) / seconds / 1000;
  }

  /**
   * Wait while no RTSP server answers (camera off, rebooting, frozen, or not a camera): one OPTIONS request per
   * poll is far cheaper than an ffmpeg start, and the first answer after an outage starts ffmpeg at once.
   * Returns false when the recorder is stopping or halted instead.
   */
  private async waitUntilAnswering(target: CameraTarget): Promise<boolean> {
    const s = this.deps.settings;
    for (;;) {
      if (this.stopping || this.haltReason) return false;
      const problem = await rtspPreflight(target, s.rtspTimeoutS * 1000, this.wake.signal);
      if (!problem) return true;
      if (this.stopping || this.haltReason) return false;
      this.notRecording(problem.message);
      if (problem.message !== this.reason) this.deps.log.warn({ camera: this.cameraId, problem: problem.code }, `camera ${this.cameraId}: ${problem.message}`);
      this.setState(this.state === 'failed' ? 'failed' : 'reconnecting', problem.message);
      await this.sleep(s.reachabilityPollMs);
    }
  }

  private isRecording(): boolean {
    return this.state === 'recording' || this.state === 'undecodable';
  }

  /** Frames flow: `recording`, or `undecodable` while the decode check says the video does not decode. */
  private setRecording(): void {
    if (this.undecodable) this.setState('undecodable', this.undecodable);
    else this.setState('recording', null);
  }

  private onDecodeVerdict(v: DecodeVerdict): void {
    if (this.stopping) return; // a check that ended after the stop: the next recorder judges afresh
    this.undecodable = v.decodable ? undefined : v.reason;
    if (v.decodable) this.deps.log.info({ camera: this.cameraId }, `camera ${this.cameraId}: its video decodes`);
    else this.deps.log.error({ camera: this.cameraId, detail: v.detail }, `camera ${this.cameraId}: ${v.reason}`);
    if (this.isRecording()) this.setRecording();
    this.deps.onDecodable?.(v);
  }

  private notRecording(reason: string): void {
    this.deps.index.openGap(reason, this.startedUtcMs);
  }

  private setState(state: RecorderState, reason: string | null): void {
    const changed = state !== this.state || reason !== this.reason;
    if (!changed) return;
    if (state !== this.state) {
      this.sinceUtcMs = this.deps.clock.now();
      if (this.isRecording()) this.notRecordingSince = performance.now();
      if (state === 'recording' && this.state !== 'undecodable') this.deps.log.info({ camera: this.cameraId }, `camera ${this.cameraId}: recording`);
    }
    this.state = state;
    this.reason = reason;
    this.publish(true);
  }

  private tick(): void {
    const run = this.run;
    if (run && this.isRecording()) {
      const dt = (run.framesAt - this.frameMark.at) / 1000;
      if (dt > 0 && this.frameMark.at > 0) this.fps = Math.round(((run.frames - this.frameMark.frames) / dt) * 100) / 100;
      if (dt > 0 || this.frameMark.at === 0) this.frameMark = { frames: run.frames, at: run.framesAt };
      const cpu = run.cpuPercent();
      if (cpu !== undefined && cpu > this.deps.settings.cpuPercent) {
        this.deps.log.warn({ camera: this.cameraId, cpuPercent: Math.round(cpu) }, `camera ${this.cameraId}: ffmpeg uses too much CPU; restarting it`);
        void run.stop('cpu');
      }
    }
    const waitedMs = performance.now() - this.notRecordingSince;
    if (this.state === 'reconnecting' && waitedMs > FAILED_AFTER_TIMEOUTS * this.deps.settings.rtspTimeoutS * 1000) {
      this.setState('failed', this.reason === CONNECTING ? `no video from the camera for ${Math.round(waitedMs / 1000)} s (still trying)` : this.reason);
      return;
    }
    this.publish(false);
  }

  private publish(changed: boolean): void {
    this.deps.onStatus(this.status(), changed);
  }

  /** Wait `ms` or until poked (stop, halt, resume). */
  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    const signal = this.wake.signal;
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', finish);
        resolve();
      };
      const timer = Number.isFinite(ms) ? setTimeout(finish, ms) : undefined;
      signal.addEventListener('abort', finish, { once: true });
    });
  }

  private poke(): void {
    const old = this.wake;
    this.wake = new AbortController();
    old.abort();
  }
}
