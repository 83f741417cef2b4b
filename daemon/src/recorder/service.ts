import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync } from 'node:fs';
import type { AppContext } from '../kernel/context.js';
import type { Service } from '../kernel/service.js';
import { relayHost } from '../cameras/relay-host.js';
import { CameraCatalog } from '../cameras/catalog.js';
import { AlarmsRepo } from '../db/repos/alarms.js';
import { CameraStatusRepo } from '../db/repos/camera-status.js';
import { CamerasRepo, type Camera } from '../db/repos/cameras.js';
import { SegmentsRepo } from '../db/repos/segments.js';
import { errorMessage } from '../util/errors.js';
import { isSafeId } from '../util/ids.js';
import { AlarmLog } from './alarm-log.js';
import { CameraIndex } from './camera-index.js';
import { DecodeChecker, type DecodeVerdict } from './decode-check.js';
import { DISK_FULL, diskFullReason } from './disk-guard.js';
import { LOCKED_OVER_QUOTA } from './retention.js';
import { recoverCameraDir } from './run-files.js';
import { recorderSettings, type RecorderSettings } from './settings.js';
import { CameraRecorder, type RecorderStatus } from './supervisor.js';

/**
 * One CameraRecorder per enabled camera. Camera changes made by the CLI or the web UI (in the database, from
 * another process) are picked up by polling the cameras revision, and only the cameras that changed are
 * started, stopped or restarted. Halting for locked footage over quota is read from the alarms table too, so
 * all coordination goes through SQLite.
 */
/** A camera loop round that has not ended for this long (or longer than 10 polls) is stuck. */
const LOOP_STALE_MS = 60_000;

export class RecorderService implements Service {
  readonly name = 'recorder';
  readonly cameras: CameraCatalog;
  private readonly settings: RecorderSettings;
  private readonly recorders = new Map<string, { recorder: CameraRecorder; fingerprint: string }>();
  private readonly statusRepo: CameraStatusRepo;
  private timer: NodeJS.Timeout | undefined;
  private revision = -1;
  private readonly alarms: AlarmLog;
  /** The recorder's database writes are failing: why, whether the alarm is written, and how often that was tried. */
  private writeTrouble: { reason: string; alarmed: boolean; attempts: number } | undefined;
  private alarmRetry: NodeJS.Timeout | undefined;
  private stopped = false;
  private reconciling: Promise<void> = Promise.resolve();
  private readonly decodeChecker: DecodeChecker;

  constructor(private readonly ctx: AppContext) {
    this.settings = recorderSettings(ctx.config);
    this.cameras = CameraCatalog.fromConfig(ctx.config, ctx.paths.stateDir, ctx);
    this.statusRepo = new CameraStatusRepo(ctx.db);
    this.decodeChecker = new DecodeChecker({ ffmpeg: this.settings.ffmpeg, sandbox: this.settings.sandbox, roundMs: DECODE_ROUND_MS });
    this.alarms = new AlarmLog({ db: ctx.db, audit: ctx.audit, clock: ctx.clock, log: ctx.log.child({ service: this.name }) }, 'recorder');
  }

  private get log(): AppContext['log'] {
    return this.ctx.log;
  }

  async start(): Promise<void> {
    mkdirSync(this.ctx.paths.bufferDir, { recursive: true, mode: 0o750 });
    await this.recover();
    await this.reconcile();
    this.loop.finishedAt = performance.now();
    this.timer = setInterval(() => {
      this.reconciling = this.reconciling
        .then(() => {
          this.loop.startedAt = performance.now();
          return this.reconcile();
        })
        .finally(() => {
          this.loop.finishedAt = performance.now();
          this.loop.startedAt = undefined;
        })
        .catch((err: unknown) => {
          this.log.error({ service: this.name, err }, 'camera reload failed');
          // the database refused a write (locked, full, read-only): the same alarm as for the segment index
          if (String((err as { code?: unknown }).code ?? '').startsWith('SQLITE_')) this.writeProblem(errorMessage(err));
        });
    }, this.settings.reloadPollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    this.stopped = true;
    clearTimeout(this.alarmRetry);
    this.alarmRetry = undefined;
    await this.reconciling;
    const all = [...this.recorders.values()].map((r) => r.recorder);
    this.recorders.clear();
    await Promise.all(all.map((r) => r.stop('the daemon stopped')));
    // the camera relay process goes with the recorders it served
    await relayHost().stop();
  }

  /** The camera loop (registry, alarms, reconcile) as the watchdog sees it: when its last round began and ended. */
  private readonly loop: { startedAt: number | undefined; finishedAt: number } = { startedAt: undefined, finishedAt: performance.now() };

  /**
   * The camera loop turns: a round ended within LOOP_STALE_MS and none has run longer than that. (A
   * camera that fails is an alarm of its own, not a reason to restart the daemon.)
   */
  liveness(): string | undefined {
    if (this.stopped) return undefined;
    const now = performance.now();
    const bound = Math.max(LOOP_STALE_MS, 10 * this.settings.reloadPollMs);
    if (this.loop.startedAt !== undefined && now - this.loop.startedAt > bound) return `a camera reload round has been running for ${Math.round((now - this.loop.startedAt) / 1000)} s`;
    if (now - this.loop.finishedAt > bound) return `no camera reload round has finished for ${Math.round((now - this.loop.finishedAt) / 1000)} s`;
    return undefined;
  }

  /** Live status of every recording camera (for health and the UI in this process). */
  statuses(): RecorderStatus[] {
    return [...this.recorders.values()].map((r) => r.recorder.status());
  }

  /** Finish the runs a previous daemon left behind (kill -9, power cut) before anything new is written. */
  private async recover(): Promise<void> {
    const segments = new SegmentsRepo(this.ctx.db);
    let dirs: string[] = [];
    try {
      dirs = readdirSync(this.ctx.paths.bufferDir).filter(isSafeId);
    } catch {
      return;
    }
    for (const cameraId of dirs) {
      const { runs } = await recoverCameraDir(this.index(cameraId), segments.pathsOfCamera(cameraId));
      if (runs) this.log.info({ service: this.name, camera: cameraId, runs }, 'finished recording runs left by the previous daemon');
    }
  }

  private index(cameraId: string): CameraIndex {
    return new CameraIndex(cameraId, { db: this.ctx.db, bus: this.ctx.bus, log: this.log, bufferDir: this.ctx.paths.bufferDir, ffprobe: this.settings.ffprobe });
  }

  /** Bring running recorders in line with the registry and the alarms. Cheap when nothing changed. */
  private async reconcile(): Promise<void> {
    const revision = this.cameras.revision();
    if (revision !== this.revision) {
      this.revision = revision;
      await this.applyCameras(this.cameras.list());
    }
    // checked before anything is written: a full disk must pause recording even when the database cannot say so
    const diskFull = diskFullReason(this.ctx.paths.bufferDir, this.settings.recordingReserveBytes);
    for (const { recorder } of this.recorders.values()) if (diskFull) recorder.halt(DISK_FULL_REASON);
    if (diskFull) this.alarms.raise(DISK_FULL, 'buffer', diskFull);
    else this.alarms.clear(DISK_FULL, 'buffer');
    const halted = new Map(new AlarmsRepo(this.ctx.db, this.ctx.clock).active(LOCKED_OVER_QUOTA).map((a) => [a.subject, a.message]));
    for (const [id, { recorder }] of this.recorders) {
      const reason = diskFull ? DISK_FULL_REASON : halted.get(id);
      if (reason) recorder.halt(reason);
      else recorder.resume();
    }
  }

  private decodeAlarm(cameraId: string, v: DecodeVerdict): void {
    try {
      if (v.decodable) this.alarms.clear(UNDECODABLE, cameraId);
      else this.alarms.raise(UNDECODABLE, cameraId, `camera ${cameraId}: ${v.reason}`);
    } catch (err) {
      this.writeProblem(errorMessage(err));
    }
  }

  /**
   * A database write of the recorder failed (`error`) or worked again (undefined): an alarm says so, with the
   * reason, and is cleared when writes work. The log says it at once; the alarm's own write meets the same lock or
   * full disk, so it goes through the reconcile loop and is tried again every second, up to 20 times. A failure
   * whose alarm could not be written is raised and cleared once writes work again, so the record keeps it.
   */
  private writeProblem(error: string | undefined): void {
    const trouble = this.writeTrouble;
    if (error !== undefined) {
      if (trouble?.reason === error && (trouble.alarmed || trouble.attempts < ALARM_WRITE_ATTEMPTS)) return;
      if (trouble?.reason !== error) this.log.error({ service: this.name, writeError: error }, dbWriteMessage(error));
      this.writeTrouble = { reason: error, alarmed: false, attempts: 0 };
      this.retryWriteAlarm(0);
      return;
    }
    if (!trouble) return;
    try {
      if (!trouble.alarmed) this.alarms.raise(DB_WRITE_FAILED, 'database', dbWriteMessage(trouble.reason));
      this.alarms.clear(DB_WRITE_FAILED, 'database');
      this.writeTrouble = undefined;
      clearTimeout(this.alarmRetry);
      this.alarmRetry = undefined;
    } catch (err) {
      this.log.error({ service: this.name, err }, 'cannot record the database write failure as an alarm');
    }
  }

  /** Queue an attempt to write the database-write alarm on the reconcile loop, `ms` from now. */
  private retryWriteAlarm(ms: number): void {
    if (this.alarmRetry || this.stopped) return;
    this.alarmRetry = setTimeout(() => {
      this.alarmRetry = undefined;
      this.reconciling = this.reconciling.then(() => this.writeAlarm());
    }, ms);
    this.alarmRetry.unref();
  }

  private writeAlarm(): void {
    const trouble = this.writeTrouble;
    if (!trouble || trouble.alarmed || this.stopped) return;
    trouble.attempts += 1;
    try {
      this.alarms.raise(DB_WRITE_FAILED, 'database', dbWriteMessage(trouble.reason));
      trouble.alarmed = true;
    } catch (err) {
      if (trouble.attempts < ALARM_WRITE_ATTEMPTS) this.retryWriteAlarm(ALARM_RETRY_MS);
      else this.log.error({ service: this.name, err, attempts: trouble.attempts }, `cannot write the database-write alarm (${errorMessage(err)}); it is written when writes work again`);
    }
  }

  private async applyCameras(cameras: Camera[]): Promise<void> {
    const repo = new CamerasRepo(this.ctx.db);
    const wanted = new Map(cameras.filter((c) => c.enabled).map((c) => [c.id, c]));
    const stops: Promise<void>[] = [];
    for (const [id, running] of this.recorders) {
      const camera = cameras.find((c) => c.id === id);
      const why = !camera ? 'camera removed' : !camera.enabled ? 'camera disabled' : running.fingerprint !== fingerprint(camera, repo) ? 'camera settings changed' : undefined;
      if (!why) continue;
      this.recorders.delete(id);
      this.log.info({ service: this.name, camera: id, why }, `camera ${id}: stopping its recorder (${why})`);
      stops.push(running.recorder.stop(why).then(() => this.afterStop(id, camera)));
    }
    await Promise.all(stops);
    for (const camera of cameras) if (!camera.enabled) this.putStatus({ cameraId: camera.id, state: 'disabled', reason: 'disabled in the camera registry', sinceUtcMs: this.ctx.clock.now(), fps: null, bitrateKbps: null, lastSegmentEndUtcMs: null, spawns: 0 }, false);
    for (const [id, camera] of wanted) {
      if (this.recorders.has(id)) continue;
      const recorder = new CameraRecorder({
        cameraId: id,
        settings: this.settings,
        index: this.index(id),
        target: () => this.cameras.target(id),
        clock: this.ctx.clock,
        log: this.log.child({ service: this.name }),
        onStatus: (s, changed) => this.putStatus(s, changed),
        onWrite: (error) => this.writeProblem(error),
        onDecodable: (v) => this.decodeAlarm(id, v),
        decodeChecker: this.decodeChecker,
      });
      this.recorders.set(id, { recorder, fingerprint: fingerprint(camera, repo) });
      this.log.info({ service: this.name, camera: id }, `camera ${id}: starting its recorder`);
      recorder.start();
    }
  }

  private afterStop(id: string, camera: Camera | undefined): void {
    if (!camera) this.statusRepo.remove(id);
    // a stopped recorder checks nothing: its verdict is started afresh with the next recorder
    this.decodeAlarm(id, { decodable: true, reason: '' });
  }

  private putStatus(s: RecorderStatus, changed: boolean): void {
    try {
      const previous = changed ? this.statusRepo.get(s.cameraId) : undefined;
      this.statusRepo.put({ ...s, bootId: this.ctx.bootId, updatedUtcMs: this.ctx.clock.now() });
      this.writeProblem(undefined);
      if (changed && (previous?.state !== s.state || previous.reason !== s.reason)) this.ctx.bus.emit('camera.state', { cameraId: s.cameraId, state: s.state, reason: s.reason });
    } catch (err) {
      this.log.warn({ service: this.name, camera: s.cameraId, err }, 'could not store the camera status');
      this.writeProblem(errorMessage(err));
    }
  }
}

/** The database-write alarm is tried this often, this many times, while writes fail. */
const ALARM_RETRY_MS = 1000;
const ALARM_WRITE_ATTEMPTS = 20;
/** How often the due segments of all cameras are collected into one decode check. */
const DECODE_ROUND_MS = 1000;
/** The alarm raised while a camera's video does not decode (subject: the camera id). */
export const UNDECODABLE = 'camera.undecodable';
/** The alarm raised while the recorder's database writes fail (subject: 'database'). */
export const DB_WRITE_FAILED = 'recorder.db_write_failed';
/** The reason every camera shows, and its gap keeps, while recording is paused for lack of space. */
const DISK_FULL_REASON = 'disk full: recording is paused until the buffer disk has space again (buffer.recording_reserve_mb)';

const dbWriteMessage = (error: string): string => `the recorder cannot write to the database: ${error}; footage stays on disk and is indexed when writes work again`;

/** What requires restarting a camera's ffmpeg when it changes (not its name or zone). */
function fingerprint(camera: Camera, repo: CamerasRepo): string {
  const sealed = repo.sealedCredentials(camera.id);
  return createHash('sha256')
    .update(JSON.stringify([camera.url, camera.transport, sealed?.ciphertext.toString('base64') ?? '']))
    .digest('hex');
}
