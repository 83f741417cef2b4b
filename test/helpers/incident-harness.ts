import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { AppContext } from '../../daemon/src/kernel/context.js';
import { EventBus } from '../../daemon/src/kernel/events.js';
import { AuditLog } from '../../daemon/src/audit/log.js';
import { buildConfig } from '../../daemon/src/config/load.js';
import { daemonPaths } from '../../daemon/src/config/paths.js';
import { createIncidents, type Incidents } from '../../daemon/src/incidents/compose.js';
import type { IncidentStep } from '../../daemon/src/incidents/step.js';
import type { Incident } from '../../daemon/src/incidents/model.js';
import { createLogger } from '../../daemon/src/log/logger.js';
import { openDatabase, type Db } from '../../daemon/src/db/db.js';
import { AlarmsRepo } from '../../daemon/src/db/repos/alarms.js';
import { CamerasRepo } from '../../daemon/src/db/repos/cameras.js';
import { SegmentsRepo } from '../../daemon/src/db/repos/segments.js';
import { runCommand } from '../../daemon/src/util/child.js';
import { ManualClock } from '../../daemon/src/util/clock.js';
import { ClockSyncMonitor } from '../../daemon/src/util/clock-sync.js';

export const T0 = Date.UTC(2026, 11, 1, 9, 0, 0);

/**
 * The real incident parts (repository, state machine with its audit and alarms, worker, extraction step
 * with real ffmpeg) on a real SQLite file, driven by a manual clock: a simulated day runs in seconds.
 * Only the analysing step is scripted per test (it stands for the face pipeline and the sealer, whose
 * errors it throws with the same codes).
 */
export class IncidentHarness {
  readonly clock = new ManualClock(T0);
  readonly db: Db;
  readonly ctx: AppContext;
  readonly parts: Incidents;
  readonly logLines: Record<string, unknown>[] = [];
  readonly alarms: AlarmsRepo;

  constructor(
    readonly dir: string,
    incidents: Record<string, unknown> = {},
    db?: Db,
  ) {
    const config = buildConfig({ device: { id: 'box-1', store: 'Test Store' }, paths: { state_dir: path.join(dir, 'state') }, incidents: { wait_for_footage_s: 30, ...incidents } });
    const paths = daemonPaths(config);
    mkdirSync(paths.stateDir, { recursive: true });
    this.db = db ?? openDatabase(paths.database);
    const lines = this.logLines;
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString('utf8').split('\n')) if (l.startsWith('{')) lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    this.ctx = {
      config,
      paths,
      log: createLogger({ level: 'info', destination: sink }),
      clock: this.clock,
      bus: new EventBus(),
      db: this.db,
      audit: new AuditLog(this.db, this.clock),
      clockSync: new ClockSyncMonitor(),
      bootId: 'test-boot',
      version: 'test',
    };
    this.parts = createIncidents(this.ctx);
    this.alarms = new AlarmsRepo(this.db, this.clock);
  }

  /** A second daemon life on the same database and clock time (the first was "killed": never stopped). */
  restart(incidents: Record<string, unknown> = {}): IncidentHarness {
    const next = new IncidentHarness(this.dir, incidents, this.db);
    next.clock.set(this.clock.now());
    return next;
  }

  get worker(): Incidents['worker'] {
    return this.parts.worker;
  }

  /** What the worker drives and asks, read at every pass: tests script steps and the uplink's answers here. */
  get links(): Incidents['links'] {
    return this.parts.links;
  }

  addCamera(id: string): void {
    new CamerasRepo(this.db).insert({ id, name: id, url: `rtsp://127.0.0.1:1/${id}`, transport: 'tcp', zone: 'tills', enabled: true }, undefined, this.clock.now());
  }

  /** Index `files` (real MPEG-TS segments, 2 s each) as camera footage starting at `fromMs`. */
  indexFootage(cameraId: string, files: string[], fromMs: number, segmentMs = 2000): void {
    const repo = new SegmentsRepo(this.db);
    const bufferDir = this.ctx.paths.bufferDir;
    mkdirSync(path.join(bufferDir, cameraId), { recursive: true });
    files.forEach((f, n) => {
      const rel = path.join(cameraId, `r1_${String(n).padStart(3, '0')}.ts`);
      writeFileSync(path.join(bufferDir, rel), readFileSync(f));
      repo.insert({ cameraId, path: rel, startUtcMs: fromMs + n * segmentMs, endUtcMs: fromMs + (n + 1) * segmentMs, bytes: 1000, runId: 'r1', recovered: false });
    });
  }

  logIncident(cameras: string[], overrides: { at?: string; before_s?: number; after_s?: number } = {}): Incident {
    return this.parts.desk.log({ at: 'now', before_s: 10, after_s: 5, ...overrides, cameras, reason: 'theft', justification: 'took razor blades from aisle 4', by: { type: 'cli', id: 'tester' } });
  }

  /** Advance the clock in steps, with a worker pass (and its steps run to the end) after each. */
  async runFor(ms: number, stepMs = 10_000): Promise<void> {
    for (let t = 0; t < ms; t += stepMs) {
      this.clock.advance(stepMs);
      await this.worker.tick();
      await this.worker.idle();
    }
  }

  get(id: string): Incident {
    return this.parts.repo.get(id)!;
  }

  auditRows(incidentId: string, sinceMs = 0): { action: string; ts: number }[] {
    return this.db
      .prepare("SELECT action, ts_utc AS ts FROM audit WHERE (object_ids LIKE '%' || ? || '%') AND ts_utc >= ? ORDER BY seq")
      .all(incidentId, sinceMs) as { action: string; ts: number }[];
  }

  warnings(incidentId: string): Record<string, unknown>[] {
    return this.logLines.filter((l) => l.level === 40 && l.incident === incidentId);
  }
}

/** An analysing step that seals (moves to `sealed`) unless its script says to throw for this run. */
export class ScriptedAnalysis implements IncidentStep {
  runs = 0;
  constructor(
    private readonly h: IncidentHarness,
    private readonly script: (run: number) => Error | 'hang' | undefined,
  ) {}

  async run(i: Incident, signal: AbortSignal): Promise<void> {
    this.runs += 1;
    const outcome = this.script(this.runs);
    if (outcome === 'hang') return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }));
    if (outcome) throw outcome;
    this.h.parts.machine.transition(i.id, 'sealed', { actor: { type: 'system', id: 'test' } });
  }
}

/** Real H.264 MPEG-TS segments of 2 s (keyframe every second), as the recorder writes them. */
export async function makeSegmentFiles(dir: string, seconds = 20): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const r = await runCommand('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=10', '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '10', '-keyint_min', '10',
    '-f', 'segment', '-segment_time', '2', '-segment_format', 'mpegts', path.join(dir, 'seg%03d.ts'),
  ]);
  if (r.code !== 0) throw new Error(`ffmpeg failed: ${r.stderr}`);
  return Array.from({ length: seconds / 2 }, (_, n) => path.join(dir, `seg${String(n).padStart(3, '0')}.ts`));
}
