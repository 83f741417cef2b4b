import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AuditActor } from '../audit/log.js';
import type { AppContext } from '../app/context.js';
import type { Service } from '../app/service.js';
import type { IncidentsRepo } from '../store/repos/incidents.js';
import { canonicalJson } from '../util/canonical.js';
import { runCommand } from '../util/child.js';
import { errorMessage } from '../util/errors.js';
import { sha256 } from '../util/hash.js';
import { assertSafeId } from '../util/ids.js';
import { incidentDir } from './paths.js';
import type { BufferIndex, EvidenceLocker } from './buffer-port.js';
import { extractClip } from './extract.js';
import { buildManifest, type ClipDetail } from './manifest.js';
import type { Incident } from './model.js';
import type { IncidentStateMachine } from './state.js';

const SYSTEM: AuditActor = { type: 'system', id: 'incident-worker' };
const TICK_MS = 1000;
const DAY_MS = 86_400_000;

/**
 * The next step after `extracting`: the face pipeline plugs in here. It receives an incident in
 * `analysing` whose master clips and manifest are on disk, and must move it on (to `sealed`) through
 * the state machine, or throw (the worker then marks it failed, and it is retried).
 */
export interface AnalysisStage {
  analyse(incident: Incident, evidenceDir: string, signal: AbortSignal): Promise<void>;
}

/** Tells whether the uplink has started sending an incident's sealed envelope. */
export interface DeliveryTracker {
  isSending(incidentId: string): boolean;
}

/**
 * Drives incidents through their states from what SQLite says, so that a restart at any point resumes:
 * logged -> waiting (window still open) -> extracting (bounded parallelism) -> analysing (stage), failed
 * retries when due, delivered -> closed when the masters' retention ends. Wakes every second and on events.
 */
export class IncidentWorker implements Service {
  readonly name = 'incidents';
  private timer: NodeJS.Timeout | undefined;
  private readonly running = new Map<string, Promise<void>>();
  private readonly abort = new AbortController();
  private unsubscribe: (() => void)[] = [];
  private ticking = false;
  private ffmpegVersion = 'unknown';
  private stage: AnalysisStage | undefined;
  private delivery: DeliveryTracker | undefined;
  private warnedNoStage = false;

  constructor(
    private readonly ctx: AppContext,
    private readonly repo: IncidentsRepo,
    private readonly machine: IncidentStateMachine,
    private readonly buffer: BufferIndex,
    private readonly locks: EvidenceLocker,
  ) {}

  /** Connect the face pipeline (and sealing) as the `analysing` step. */
  setAnalysisStage(stage: AnalysisStage): void {
    this.stage = stage;
  }

  /** Connect the uplink, so sealed incidents show `sending` once their envelope is on its way. */
  setDeliveryTracker(tracker: DeliveryTracker): void {
    this.delivery = tracker;
  }

  /**
   * The force confirmed an incident's evidence (called inside the uplink's delivery transaction).
   * Never throws: a receipt must not be rolled back because of the incident's bookkeeping.
   */
  delivered(incidentId: string, envelopeId: string): void {
    try {
      const i = this.repo.get(incidentId);
      if (!i || !['sealed', 'sending'].includes(i.state)) return;
      if (i.state === 'sealed') this.machine.transition(incidentId, 'sending', { actor: SYSTEM, detail: { envelope: envelopeId } });
      this.machine.transition(incidentId, 'delivered', { actor: SYSTEM, detail: { envelope: envelopeId } });
    } catch (err) {
      this.ctx.log.error({ service: this.name, incident: incidentId, err }, 'cannot record the delivery on the incident');
    }
  }

  async start(): Promise<void> {
    const r = await runCommand(this.ctx.config.tools.ffmpeg, ['-version'], { timeoutMs: 10_000 }).catch(() => undefined);
    this.ffmpegVersion = r?.stdout.toString('utf8').split('\n')[0]?.trim() || 'unknown';
    const wake = (): void => void this.tick();
    this.unsubscribe = [this.ctx.bus.on('incident.logged', wake), this.ctx.bus.on('incident.changed', wake), this.ctx.bus.on('segment.closed', wake)];
    this.timer = setInterval(wake, TICK_MS);
    const open = this.repo.countInStates(['logged', 'waiting', 'extracting', 'analysing']);
    if (open) this.ctx.log.info({ service: this.name, open }, 'resuming unfinished incidents');
    void this.tick();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.unsubscribe.forEach((u) => u());
    this.abort.abort(new Error('daemon stopping'));
    await Promise.allSettled(this.running.values());
  }

  /** One pass over every incident that has something to do. */
  async tick(): Promise<void> {
    if (this.ticking || this.abort.signal.aborted) return;
    this.ticking = true;
    try {
      const now = this.ctx.clock.now();
      for (const i of this.repo.due(['failed'], now)) if (i.failedState && i.attempts > 0) this.retryFailed(i);
      for (const i of this.repo.due(['logged', 'waiting'], now)) this.decideWaiting(i, now);
      const parallel = this.ctx.config.incidents.parallel_extractions;
      for (const i of this.repo.due(['extracting'], now)) {
        if ([...this.running.keys()].filter((k) => k.startsWith('x:')).length >= parallel) break;
        this.launch(`x:${i.id}`, () => this.extract(i));
      }
      if (this.stage) {
        for (const i of this.repo.due(['analysing'], now)) {
          if ([...this.running.keys()].some((k) => k.startsWith('a:'))) break;
          const stage = this.stage;
          this.launch(`a:${i.id}`, () => stage.analyse(i, incidentDir(this.ctx.paths.evidenceDir, i.id), this.abort.signal));
        }
      } else if (!this.warnedNoStage && this.repo.countInStates(['analysing']) > 0) {
        this.warnedNoStage = true;
        this.ctx.log.warn({ service: this.name }, 'the face pipeline is not connected: incidents wait in `analysing` with their master clips kept');
      }
      if (this.delivery) {
        for (const i of this.repo.due(['sealed'], now)) if (this.delivery.isSending(i.id)) this.machine.transition(i.id, 'sending', { actor: SYSTEM });
      }
      const retentionMs = this.ctx.config.incidents.master_retention_days * DAY_MS;
      for (const i of this.repo.due(['delivered'], now)) if (now - i.updatedAtMs >= retentionMs) await this.close(i);
    } catch (err) {
      this.ctx.log.error({ service: this.name, err }, 'incident pass failed; will try again');
    } finally {
      this.ticking = false;
    }
  }

  private launch(key: string, work: () => Promise<void>): void {
    if (this.running.has(key)) return;
    const id = key.slice(2);
    const p = work()
      .catch((err: unknown) => {
        if (this.abort.signal.aborted) return; // stopping: resume at next start
        if (this.repo.get(id)?.state === 'cancelled') return; // cancelled while working
        this.ctx.log.error({ service: this.name, incident: id, err }, 'incident step failed');
        try {
          this.machine.transition(id, 'failed', { actor: SYSTEM, reason: errorMessage(err) });
        } catch (e) {
          this.ctx.log.error({ service: this.name, incident: id, err: e }, 'cannot mark incident failed');
        }
      })
      .finally(() => {
        this.running.delete(key);
        if (!this.abort.signal.aborted) setImmediate(() => void this.tick());
      });
    this.running.set(key, p);
  }

  private retryFailed(i: Incident): void {
    this.machine.transition(i.id, i.failedState!, { actor: SYSTEM, reason: `automatic retry ${i.attempts}` });
  }

  /** Extract now if every camera has footage up to the window end, or once we have waited long enough. */
  private decideWaiting(i: Incident, now: number): void {
    const cams = this.repo.cameras(i.id).map((c) => c.cameraId);
    const covered = cams.every((c) => (this.buffer.newestSegmentEnd(c) ?? -Infinity) >= i.windowToMs);
    const waitedEnough = now >= i.windowToMs + this.ctx.config.incidents.wait_for_footage_s * 1000;
    if (covered || waitedEnough) {
      this.machine.transition(i.id, 'extracting', { actor: SYSTEM, detail: covered ? {} : { note: 'some cameras had no footage up to the window end; cutting what exists' } });
    } else if (i.state === 'logged') {
      this.machine.transition(i.id, 'waiting', { actor: SYSTEM, detail: { until: new Date(i.windowToMs).toISOString() } });
    }
  }

  private async extract(i: Incident): Promise<void> {
    const { config, paths } = this.ctx;
    const dir = incidentDir(paths.evidenceDir, i.id);
    const masterDir = path.join(dir, 'master');
    await mkdir(masterDir, { recursive: true, mode: 0o750 });
    // A crash mid-cut leaves .partial/.ffconcat files beside the clips: remove them, cut again.
    for (const f of await readdir(masterDir)) if (f.endsWith('.partial') || f.endsWith('.ffconcat')) await rm(path.join(masterDir, f), { force: true });

    const stillExtracting = (): boolean => !this.abort.signal.aborted && this.repo.get(i.id)?.state === 'extracting';
    for (const cam of this.repo.cameras(i.id)) {
      if (!stillExtracting()) return; // stopping, or cancelled meanwhile
      if (cam.clipState === 'done' && cam.clipPath && existsSync(path.join(dir, cam.clipPath))) continue;
      if (cam.clipState === 'empty') continue;
      const file = `${assertSafeId(cam.cameraId, 'camera id')}.ts`;
      const segments = this.buffer.segmentsOverlapping(cam.cameraId, i.windowFromMs, i.windowToMs);
      const clip = await extractClip({
        segments,
        fromMs: i.windowFromMs,
        toMs: i.windowToMs,
        outFile: path.join(masterDir, file),
        ffmpeg: config.tools.ffmpeg,
        ffprobe: config.tools.ffprobe,
        signal: this.abort.signal,
      });
      this.ctx.db
        .transaction(() => {
          if (!clip) {
            this.repo.updateClip(i.id, cam.cameraId, { clipState: 'empty', coverage: 0 });
            return;
          }
          const detail: ClipDetail = { gaps: clip.gaps, pieces: clip.pieces };
          this.repo.updateClip(i.id, cam.cameraId, {
            clipState: 'done',
            clipPath: `master/${file}`,
            clipSha256: clip.sha256,
            clipBytes: clip.bytes,
            clipStartMs: clip.clipStartMs,
            clipEndMs: clip.clipEndMs,
            coverage: clip.coverage,
            detail,
          });
          this.ctx.audit.append({
            actor: SYSTEM,
            action: 'evidence.clip_extracted',
            objectIds: [i.id, cam.cameraId],
            sha256s: [clip.sha256],
            detail: { bytes: clip.bytes, coverage: Number(clip.coverage.toFixed(4)), gaps: clip.gaps.length },
          });
        })
        .immediate();
    }
    if (!stillExtracting()) return;

    const cameras = this.repo.cameras(i.id);
    if (cameras.every((c) => c.clipState === 'empty')) {
      this.machine.transition(i.id, 'failed', {
        actor: SYSTEM,
        reason: 'no footage: the window is wholly outside the buffer of every chosen camera',
        permanent: true,
      });
      return;
    }
    const manifest = buildManifest({
      incident: i,
      cameras: cameras.map((row) => ({ row, detail: this.repo.clipDetail(i.id, row.cameraId) as ClipDetail | null })),
      device: config.device.id,
      store: config.device.store,
      ffmpegVersion: this.ffmpegVersion,
      version: this.ctx.version,
      clock: this.ctx.clockSync.current(),
      nowMs: this.ctx.clock.now(),
    });
    const text = canonicalJson(manifest);
    await writeFile(path.join(dir, 'manifest.json'), text + '\n');
    const manifestSha = sha256(text + '\n');
    this.machine.transition(i.id, 'analysing', {
      actor: SYSTEM,
      sha256s: [...cameras.flatMap((c) => (c.clipSha256 ? [c.clipSha256] : [])), manifestSha],
      detail: { cameras: cameras.length, coverage: cameras.map((c) => Number((c.coverage ?? 0).toFixed(4))) },
      alsoInTransaction: () => this.repo.setManifest(i.id, manifest),
    });
  }

  /** Masters have been kept as long as policy says after delivery: delete them, release the locks. */
  private async close(i: Incident): Promise<void> {
    const dir = incidentDir(this.ctx.paths.evidenceDir, i.id);
    await rm(dir, { recursive: true, force: true });
    this.machine.transition(i.id, 'closed', {
      actor: SYSTEM,
      reason: 'master retention ended',
      alsoInTransaction: () => {
        this.locks.releaseAll(i.id);
        this.ctx.audit.append({ actor: SYSTEM, action: 'evidence.erased', objectIds: [i.id], detail: { what: 'master clips and manifest', after_days: this.ctx.config.incidents.master_retention_days } });
      },
    });
  }
}
