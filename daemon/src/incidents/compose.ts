import type { AppContext } from '../kernel/context.js';
import { AlarmsRepo } from '../db/repos/alarms.js';
import { IncidentsRepo } from '../db/repos/incidents.js';
import { RecorderBuffer } from './buffer-adapter.js';
import { ExtractionStep } from './extracting.js';
import { IncidentService } from './service.js';
import { IncidentStateMachine } from './state.js';
import { IncidentWorker } from './worker.js';

export interface Incidents {
  repo: IncidentsRepo;
  machine: IncidentStateMachine;
  service: IncidentService;
  worker: IncidentWorker;
}

/** Build the incident parts on top of the recorder's buffer (called by the composition root). */
export function createIncidents(ctx: AppContext): Incidents {
  const repo = new IncidentsRepo(ctx.db);
  const machine = new IncidentStateMachine(
    ctx.db,
    repo,
    ctx.audit,
    ctx.clock,
    { firstDelayMs: ctx.config.incidents.retry_after_s * 1000, maxAttempts: ctx.config.incidents.max_attempts },
    new AlarmsRepo(ctx.db, ctx.clock),
  );
  const buffer = new RecorderBuffer(ctx.db, ctx.clock, ctx.paths.bufferDir);
  const core = { db: ctx.db, repo, machine, audit: ctx.audit, clock: ctx.clock, config: ctx.config };
  const service = new IncidentService({
    ...core,
    buffer,
    cameras: buffer,
    locks: buffer,
    bus: ctx.bus,
    evidenceDir: ctx.paths.evidenceDir,
  });
  const worker = new IncidentWorker(ctx, repo, machine, buffer, buffer);
  worker.setStep(
    'extracting',
    new ExtractionStep({
      ...core,
      buffer,
      evidenceDir: ctx.paths.evidenceDir,
      version: ctx.version,
      clockState: () => ctx.clockSync.current(),
    }),
  );
  return { repo, machine, service, worker };
}
