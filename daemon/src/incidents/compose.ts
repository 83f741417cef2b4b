import type { AppContext } from '../kernel/context.js';
import { AlarmsRepo } from '../db/repos/alarms.js';
import { IncidentsRepo } from '../db/repos/incidents.js';
import type { FacePipelineCapability } from '../models/verify.js';
import { AnalyseAndSealStep } from './analyse-and-seal.js';
import { RecorderBuffer } from './buffer-adapter.js';
import { CloseStep } from './close.js';
import { deliveryRecorder, rejectionRecorder, type RecordDelivery, type RecordRejection } from './deliver.js';
import type { EvidencePort } from './evidence-port.js';
import { ExtractionStep } from './extract.js';
import { IncidentDesk } from './desk.js';
import { ButtonDesk } from './presses.js';
import { IncidentStateMachine } from './state.js';
import { MasterHoldsRepo } from '../db/repos/master-holds.js';
import { observedStep, type PipelineObserver } from './observer.js';
import { IncidentWorker, type WorkerLinks } from './worker.js';

/** What incidents are given from outside: the uplink's side of sealing, whether faces can be found, who times the steps. */
export interface IncidentCollaborators {
  evidence: EvidencePort;
  faces: () => FacePipelineCapability;
  observer?: PipelineObserver;
}

export interface Incidents {
  repo: IncidentsRepo;
  machine: IncidentStateMachine;
  desk: IncidentDesk;
  /** Hardware buttons: presses that preserve a moment until staff complete them. */
  buttons: ButtonDesk;
  worker: IncidentWorker;
  /** What the worker drives and asks (read at every pass); tests put scripted steps here. */
  links: WorkerLinks;
  /** The `delivered` transition: the uplink's delivery hook (runs inside its delivery transaction). */
  delivered: RecordDelivery;
  /** The force's `rejected` receipt: the incident fails with its reason (the uplink's rejection hook). */
  rejected: RecordRejection;
}

/**
 * Build the incident parts on top of the recorder's buffer (called by the composition root). Without
 * collaborators (tests) the analysing step is not connected: incidents wait in `analysing`.
 */
export function createIncidents(ctx: AppContext, collaborators?: IncidentCollaborators): Incidents {
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
  const clockState = () => ctx.clockSync.current();
  const desk = new IncidentDesk({
    ...core,
    buffer,
    cameras: buffer,
    locks: buffer,
    bus: ctx.bus,
    evidenceDir: ctx.paths.evidenceDir,
  });
  const links: WorkerLinks = {
    steps: {
      // logged/waiting -> extracting -> analysing: cut the master clips, write the extraction manifest
      extracting: observedStep('extracting', new ExtractionStep({ ...core, buffer, evidenceDir: ctx.paths.evidenceDir, version: ctx.version, clockState }), collaborators?.observer),
    },
  };
  if (collaborators) {
    const { evidence, faces, observer } = collaborators;
    // analysing -> sealed: faces, package, seal, queue (the uplink's receipt then makes it delivered)
    const analysing = new AnalyseAndSealStep({
      repo,
      machine,
      audit: ctx.audit,
      log: ctx.log,
      clock: ctx.clock,
      clockState,
      config: ctx.config,
      evidenceDir: ctx.paths.evidenceDir,
      modelsDir: ctx.paths.modelsDir,
      evidence,
      faces,
      observer,
    });
    links.steps.analysing = observedStep('analysing', analysing, observer);
    // a failed incident waiting for enrollment or outbox space resumes when one comes (no attempt used)
    links.readiness = { ready: (event) => (event === 'enrolled' ? evidence.canSeal() : evidence.hasRoom()) };
    links.delivery = { isSending: (id) => evidence.isSending(id) };
  }
  const closer = new CloseStep({ evidenceDir: ctx.paths.evidenceDir, machine, locks: buffer, audit: ctx.audit, retentionDays: ctx.config.incidents.master_retention_days });
  const worker = new IncidentWorker({ ctx, repo, machine, buffer, closer, holds: new MasterHoldsRepo(ctx.db) }, links);
  const buttons = new ButtonDesk({ db: ctx.db, audit: ctx.audit, clock: ctx.clock, config: ctx.config, locks: buffer, desk });
  return { repo, machine, desk, buttons, worker, links, delivered: deliveryRecorder({ repo, machine, log: ctx.log }), rejected: rejectionRecorder({ repo, machine, log: ctx.log }) };
}
