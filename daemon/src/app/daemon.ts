/*
 * The daemon's map: what is wired to what, and in which order it starts and stops.
 *
 *   db (opened and migrated first) -- config, paths, log, clock, audit log, clock sync: the context
 *   recorder   cameras -> ring buffer segments; emits `segment.closed` (a wake-up for the incidents)
 *   retention  deletes old segments, never footage an incident has locked
 *   incidents  worker: due incidents -> the step of their state -> transition
 *                extracting  incidents/extract.ts           buffer (recorder's tables via buffer-port)
 *                analysing   incidents/analyse-and-seal.ts  vision/ (the only user on the box),
 *                                                           evidence/ builder, the evidence port
 *                delivered   incidents/close.ts after master retention
 *   uplink     the evidence port's implementation (EvidenceOutlet: seal bytes, queue them, in the
 *              caller's transaction); sends the outbox; on the force's `complete` receipt runs the one
 *              delivery hook (incidents.delivered) inside the transaction that marks the envelope
 *              delivered
 *   control    the CLI's API: incident routes and operations (cameras, locks, enrollment, sealing)
 *
 * Collaborators are passed at construction. The event bus carries wake-ups only: `incident.logged`,
 * `incident.changed` and `segment.closed` wake the incident worker, `envelope.queued` wakes the
 * sender, `envelope.delivered` tells the worker outbox space may have come; durable state is in SQLite.
 *
 * Start order: db, clock, models, retention, recorder, incidents, uplink, control (last: the CLI
 * reaches the daemon only once everything it fronts runs), systemd (ready). Stop: the reverse.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import type { LogRing } from '../log/ring.js';
import { AuditLog, type AuditActor } from '../audit/log.js';
import { daemonPaths } from '../config/paths.js';
import type { Config } from '../config/schema.js';
import { openDatabase } from '../db/db.js';
import { systemClock, type Clock } from '../util/clock.js';
import { killAllChildren } from '../util/child.js';
import { ClockSyncMonitor } from '../util/clock-sync.js';
import { newId } from '../util/ids.js';
import { ClockService } from './clock-service.js';
import type { AppContext } from '../kernel/context.js';
import { EventBus } from '../kernel/events.js';
import { ModelsCheck } from './models-check.js';
import type { Service } from '../kernel/service.js';
import { DbService } from './db-service.js';
import { HealthCheckService, Liveness } from './liveness.js';
import { SystemdNotifier } from './systemd.js';
import { daemonVersion } from '../config/version.js';
import { RecorderService } from '../recorder/service.js';
import { bufferStatus } from '../recorder/status.js';
import { RetentionService } from '../recorder/retention-service.js';
import { EvidenceOutlet } from '../uplink/evidence-outlet.js';
import { createOutbox, UplinkService } from '../uplink/service.js';
import { WebService } from '../web/service.js';
import { ControlServer } from '../control/server.js';
import { operationRoutes, type OperationContext } from '../control/operations.js';
import { BoxSettings } from '../kernel/settings.js';
import { healthAlarms, healthFigures } from './health.js';
import { BoxMetrics } from './metrics.js';
import type { DeviceHealth } from '../web/status-api.js';
import { ForcePolicy } from '../kernel/force-config.js';
import { CAMERA_OPERATIONS } from '../cameras/operations.js';
import { LOCK_OPERATIONS } from '../recorder/lock-operations.js';
import { UPLINK_OPERATIONS } from '../uplink/operations.js';
import { createIncidents } from '../incidents/compose.js';
import { incidentRoutes } from '../incidents/routes.js';
import { applyRestoreMarker } from '../audit/epoch.js';

const STOP_TIMEOUT_MS = 4000;
/** How often the daemon checks its own health when no systemd watchdog sets the pace. */
const HEALTH_CHECK_MS = 15_000;

/**
 * The composition root: the only place that knows every service. Builds them from the config,
 * starts them in order and stops them in reverse.
 */
export class Daemon {
  readonly ctx: AppContext;
  private readonly services: Service[];
  private readonly systemd: SystemdNotifier;
  private readonly health: HealthCheckService;
  /** Every service started and not stopping (`/readyz`). */
  private ready = false;
  private readonly started: Service[] = [];
  private stopping: Promise<void> | undefined;

  constructor(config: Config, options: { log: Logger; clock?: Clock; env?: NodeJS.ProcessEnv; logRing?: LogRing }) {
    const paths = daemonPaths(config);
    // Open (and migrate) the database first: a corrupt file must stop start-up before anything runs.
    // an upgrade of the schema is the daemon's alone, and a copy of the database as it was comes first
    const db = openDatabase(paths.database, {
      backupDir: path.join(paths.stateDir, 'backups'),
      onBackup: (file, version) => options.log.warn({ file, schema_version: version }, `database upgraded from schema version ${version}; its previous state is kept in ${file}`),
    });
    const clock = options.clock ?? systemClock;
    const clockSync = new ClockSyncMonitor();
    this.ctx = {
      config,
      paths,
      log: options.log,
      clock,
      bus: new EventBus(),
      db,
      audit: new AuditLog(db, clock, () => clockSync.current()),
      clockSync,
      bootId: newId(),
      version: daemonVersion(),
    };
    // `hindsight restore` left the database of a backup: a new epoch starts before anything is sent
    applyRestoreMarker({ db, audit: this.ctx.audit, stateDir: paths.stateDir, now: () => clock.now(), log: options.log });
    // A store manager's settings (kept in the database) over the config file's, before any service reads them
    // The force's caps first (its signed desired configuration), then the managers' settings within them
    const forcePolicy = new ForcePolicy(this.ctx);
    forcePolicy.applyStored();
    const settings = new BoxSettings(this.ctx);
    settings.applyStored();
    this.systemd = new SystemdNotifier(options.log, config.systemd.notify, options.env);
    // is the daemon really healthy? systemd's watchdog is fed on it, /healthz answers it (app/liveness.ts)
    this.health = new HealthCheckService({
      liveness: new Liveness({ db, services: () => this.started, now: () => clock.now() }),
      intervalMs: this.systemd.watchdogIntervalMs() ?? HEALTH_CHECK_MS,
      now: () => clock.now(),
      onVerdict: (v) => this.systemd.watchdog(v.problems),
    });
    const models = new ModelsCheck(this.ctx);
    // What the web app's status, probes and metrics say of the box (the uplink is made below; asked only once running).
    const device = (): DeviceHealth => ({ link: uplink.linkStatus(), models: models.capability, health: this.health.current(), ready: this.ready });
    // Prometheus's figures: read from the database at each scrape, the incident steps' times as they end
    const metrics = new BoxMetrics(this.ctx, { device, alarms: healthAlarms(this.ctx) });
    // The outbox is shared: the incidents queue sealed evidence into it, the uplink sends from it.
    const outbox = createOutbox(this.ctx);
    const incidents = createIncidents(this.ctx, { evidence: new EvidenceOutlet(this.ctx, outbox), faces: () => models.capability, observer: metrics });
    // The force's `complete` receipt: the envelope and the incident become delivered in one transaction.
    const uplink = new UplinkService(this.ctx, {
      outbox,
      onDelivered: (d) => void (d.kind === 'evidence' && incidents.delivered(d.incidentId, d.envelopeId)),
      onRejected: (r) => void (r.kind === 'evidence' && incidents.rejected(r.incidentId, r.envelopeId, r.reason)),
      health: healthFigures(this.ctx, () => models.capability),
      healthAlarms: healthAlarms(this.ctx),
      forcePolicy: { policy: forcePolicy, changed: () => settings.applyStored() },
      logs: options.logRing && ((lines, maxBytes) => options.logRing!.tail(lines, maxBytes)),
    });
    // The local control API (CLI -> daemon) opens last, once everything it fronts is running.
    const control = new ControlServer(paths.runtimeDir, options.log);
    control.register(incidentRoutes(incidents.desk, incidents.worker));
    // Changes the CLI asks for (cameras, evidence locks...) run here: the daemon is the single writer.
    const operationContext = (actor: AuditActor): OperationContext => ({
      ...this.ctx,
      actor,
      inDaemon: true,
      notify: (event) => {
        if (event === 'queued') return uplink.wake();
        uplink.enrolled();
        incidents.worker.notify(event);
      },
    });
    control.register(operationRoutes([...CAMERA_OPERATIONS, ...LOCK_OPERATIONS, ...UPLINK_OPERATIONS], operationContext));
    this.services = [
      new DbService(this.ctx),
      new ClockService(clockSync, options.log),
      models,
      new RetentionService(this.ctx),
      new RecorderService(this.ctx),
      incidents.worker,
      uplink,
      new WebService(this.ctx, {
        desk: incidents.desk,
        buttons: incidents.buttons,
        settings,
        device,
        operationContext,
        bufferHealth: () => bufferStatus(this.ctx.db, config, this.ctx.clock),
        metrics,
      }),
      control,
      this.health,
      this.systemd,
    ];
  }

  service<T extends Service>(name: string): T | undefined {
    return this.services.find((s) => s.name === name) as T | undefined;
  }

  async start(): Promise<void> {
    const { log } = this.ctx;
    log.info({ version: this.ctx.version, bootId: this.ctx.bootId, device: this.ctx.config.device.id }, 'hindsight starting');
    for (const service of this.services) {
      try {
        await service.start();
      } catch (err) {
        log.error({ service: service.name, err }, 'service failed to start; stopping the others');
        await this.stop('start-up failure');
        throw err;
      }
      this.started.push(service);
      log.info({ service: service.name }, 'service started');
    }
    await this.systemd.ready();
    this.ready = true;
    this.ctx.bus.emit('daemon.started', { bootId: this.ctx.bootId });
    log.info({ services: this.started.map((s) => s.name) }, 'hindsight running');
  }

  /** Stop every started service in reverse order; each gets a bounded time. Idempotent. */
  stop(reason = 'requested'): Promise<void> {
    this.stopping ??= this.doStop(reason);
    return this.stopping;
  }

  private async doStop(reason: string): Promise<void> {
    const { log } = this.ctx;
    log.info({ reason }, 'hindsight stopping');
    this.ready = false;
    this.ctx.bus.emit('daemon.stopping', { reason });
    for (const service of [...this.started].reverse()) {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          Promise.resolve(service.stop()),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`did not stop within ${STOP_TIMEOUT_MS} ms`)), STOP_TIMEOUT_MS);
          }),
        ]);
        log.info({ service: service.name }, 'service stopped');
      } catch (err) {
        log.error({ service: service.name, err }, 'service did not stop cleanly');
      } finally {
        clearTimeout(timer);
      }
    }
    this.started.length = 0;
    if (this.ctx.db.open) this.ctx.db.close();
    const leftovers = killAllChildren();
    if (leftovers.length) log.warn({ pids: leftovers }, 'child processes were still running at stop; killed them');
    log.info('hindsight stopped');
  }
}
