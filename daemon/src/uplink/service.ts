import { readFileSync } from 'node:fs';
import type { AppContext } from '../kernel/context.js';
import type { Service } from '../kernel/service.js';
import { readKeyFile } from '../crypto/keys.js';
import { MqttConnection } from '../protocol/mqtt.js';
import { DeviceTopics, DEFAULT_PREFIX } from '../protocol/topics.js';
import { checkPayload, HealthPayload, type HealthMessage, type ReportedConfigMessage, type StateMessage } from '../protocol/schemas.js';
import { MetaRepo } from '../db/repos/meta.js';
import { isEnrolled, KeySetStore, loadEnrollment, uplinkFiles } from './enrollment.js';
import type { EnrollmentBundle } from '../protocol/enrollment.js';
import { DeletionReports } from './deletion-reports.js';
import { MastersUploader, type MastersPlan } from './masters-upload.js';
import { Outbox, type DeliveryHook, type OutboxStats, type RejectionHook } from './outbox.js';
import { deleteDeliveredWorkingFiles, ReceiptHandler } from './receipts.js';
import { EnvelopeSender, type SenderSettings } from './sender.js';
import { AuditHeads, signAuditHead } from './audit-head.js';
import { HealthOnChange } from './health-on-change.js';
import { errorMessage, HindsightError } from '../util/errors.js';
import { CommandVerifier } from '../fleet/command-verify.js';
import { FleetCommands, type CommandHost } from '../fleet/commands.js';
import { markWipe } from '../fleet/wipe.js';
import { DesiredConfigHandler } from '../fleet/desired-config.js';
import type { ForcePolicy } from '../kernel/force-config.js';
import { WebRepo } from '../db/repos/web.js';
import { IncidentsRepo } from '../db/repos/incidents.js';
import { MasterHoldsRepo } from '../db/repos/master-holds.js';
import { forceMaxHours } from '../kernel/settings.js';


/** The outbox and sealer a box has whether or not its link is up (the evidence outlet and operations use these). */
export function createOutbox(ctx: Pick<AppContext, 'config' | 'db' | 'audit' | 'clock'>): Outbox {
  const u = ctx.config.uplink;
  return new Outbox(ctx.db, ctx.audit, ctx.clock, { maxBytes: u.outbox_max_bytes, maxAgeMs: u.outbox_max_age_days * 86_400_000 });
}


export interface LinkStatus {
  state: 'not_enrolled' | 'off' | 'connecting' | 'connected';
  error: string | null;
  outbox: OutboxStats;
}

export interface UplinkLinks {
  /** The box's outbox, when the composition root shares it (the evidence outlet queues into it). */
  outbox?: Outbox;
  /**
   * Runs inside the transaction that marks an envelope delivered on the force's `complete` receipt
   * (the incident's `delivered` transition).
   */
  onDelivered?: DeliveryHook;
  /** Runs inside the transaction that marks an envelope rejected on the force's signed `rejected` receipt (the incident fails). */
  onRejected?: RejectionHook;
  /** Fault injection for tests. */
  testing?: Pick<SenderSettings, 'dropChunk'>;
  /**
   * The box's own figures for the health document (cpu, memory, disk, cameras, incidents, models,
   * alarms), given by the composition root; the uplink adds time, uptime, version, clock and outbox.
   */
  health?: () => Promise<Record<string, unknown>>;
  /** The alarms the health document would list now, read cheaply: the document also goes when their set changes. */
  healthAlarms?: () => readonly { kind: string; subject: string }[];
  /** The force-owned configuration (desired/reported), and what to re-check when it changes (the managers' settings). */
  forcePolicy?: { policy: ForcePolicy; changed: () => void };
  /** The daemon's recent log lines, redacted (the force's `get_logs`); none when the process keeps no ring. */
  logs?: CommandHost['logs'];
}

/**
 * The uplink service: MQTT to the force, sending the outbox and taking receipts. A box that is not
 * enrolled keeps recording and sealing nothing; it says so once at start.
 */
export class UplinkService implements Service {
  readonly name = 'uplink';
  readonly outbox: Outbox;
  private auditTimer: NodeJS.Timeout | undefined;
  /** The box's deletion receipts, sealed for the force (with each audit head). */
  private readonly deletions: DeletionReports;
  private fullTimer: NodeJS.Timeout | undefined;
  private link: MqttConnection | undefined;
  private sender: EnvelopeSender | undefined;
  private topics: DeviceTopics | undefined;
  private onlineState: string | undefined;
  private offlineState: string | undefined;
  private unsubscribe: (() => void)[] = [];

  private readonly testing: Pick<SenderSettings, 'dropChunk'>;
  private readonly healthFigures: (() => Promise<Record<string, unknown>>) | undefined;
  private readonly forcePolicy: UplinkLinks['forcePolicy'];
  private readonly logs: UplinkLinks['logs'];
  private healthTimer: NodeJS.Timeout | undefined;
  private healthOnChange: HealthOnChange | undefined;
  private readonly healthAlarms: UplinkLinks['healthAlarms'];
  private auditHeads: AuditHeads | undefined;
  private readonly startedAtMs = Date.now();

  constructor(
    private readonly ctx: AppContext,
    links: UplinkLinks = {},
  ) {
    this.outbox = links.outbox ?? createOutbox(ctx);
    this.deletions = new DeletionReports(ctx, this.outbox);
    this.testing = links.testing ?? {};
    this.healthFigures = links.health;
    this.healthAlarms = links.healthAlarms;
    this.forcePolicy = links.forcePolicy;
    this.logs = links.logs;
    // The one delivery hook: it commits with the envelope's `delivered` state, or neither does.
    if (links.onDelivered) this.outbox.onDelivered(links.onDelivered);
    if (links.onRejected) this.outbox.onRejected(links.onRejected);
  }

  /** The link to the force in a few words (the console's "This box"): enrolled, connected, last error, waiting evidence. */
  linkStatus(): LinkStatus {
    const outbox = this.outbox.stats();
    if (!isEnrolled(this.ctx.paths.stateDir)) return { state: 'not_enrolled', error: null, outbox };
    if (!this.link) return { state: 'off', error: this.ctx.config.uplink.enabled ? 'the uplink did not start: see the log' : 'uplink.enabled is false', outbox };
    return { state: this.link.connected ? 'connected' : 'connecting', error: this.link.error || null, outbox };
  }

  start(): void {
    const { config, log, paths } = this.ctx;
    const u = config.uplink;
    if (!isEnrolled(paths.stateDir)) {
      log.warn({ service: this.name }, 'this box is not enrolled with a force: evidence cannot be sealed or sent until `hindsight enroll BUNDLE` is run; recording continues');
      return;
    }
    deleteDeliveredWorkingFiles(this.outbox, log);
    if (!u.enabled) {
      log.warn({ service: this.name }, 'uplink.enabled is false: evidence is sealed and queued but not sent');
      return;
    }
    const bundle = loadEnrollment(paths.stateDir);
    const deviceId = config.device.id;
    if (bundle.device_id !== deviceId) {
      log.error({ service: this.name, enrolledAs: bundle.device_id, configured: deviceId }, 'device.id differs from the enrolled device id; the uplink stays off (fix device.id or enroll again)');
      return;
    }
    const topics = new DeviceTopics(u.prefix || bundle.mqtt.prefix || DEFAULT_PREFIX, deviceId);
    const link = this.connect(bundle, topics);
    const sender = this.createSender(link, topics);
    this.wire(link, sender, topics);
    this.link = link;
    this.topics = topics;
    this.sender = sender;
    link.start();
    sender.start();
    log.info({ service: this.name, broker: u.broker_url || bundle.mqtt.url, device: deviceId, outbox: this.outbox.stats() }, 'uplink started');
  }

  /** MQTT 5 over TLS with the device's credentials, a persistent session and `offline` as the will. */
  private connect(bundle: EnrollmentBundle, topics: DeviceTopics): MqttConnection {
    const u = this.ctx.config.uplink;
    const meta = new MetaRepo(this.ctx.db);
    const bdSeq = Number(meta.get('uplink.bd_seq') ?? 0) + 1;
    meta.set('uplink.bd_seq', String(bdSeq));
    const state = (s: StateMessage['state']): string => JSON.stringify({ state: s, version: this.ctx.version, boot_id: this.ctx.bootId, bd_seq: bdSeq } satisfies StateMessage);
    this.onlineState = state('online');
    this.offlineState = state('offline');
    const username = u.username || bundle.mqtt.username || topics.device;
    return new MqttConnection({
      url: u.broker_url || bundle.mqtt.url,
      ca: u.ca_file ? readFileSync(u.ca_file) : bundle.mqtt.ca_pem,
      username,
      password: u.password || bundle.mqtt.password,
      clientId: username,
      clean: false,
      sessionExpiryS: u.session_expiry_s,
      keepaliveS: u.keepalive_s,
      reconnectMs: u.reconnect_ms,
      will: { topic: topics.state(), payload: this.offlineState, retain: true },
      subscriptions: [
        { topic: topics.receipt(), qos: 1 },
        { topic: topics.cmd(), qos: 1 },
        ...(this.forcePolicy ? [{ topic: topics.configDesired(), qos: 1 as const }] : []),
      ],
      log: this.ctx.log.child({ service: this.name }),
    });
  }

  private createSender(link: MqttConnection, topics: DeviceTopics): EnvelopeSender {
    const u = this.ctx.config.uplink;
    const settings: SenderSettings = {
      publishTimeoutMs: u.publish_timeout_ms,
      receiptTimeoutMs: u.receipt_timeout_s * 1000,
      retryMinMs: u.retry_min_ms,
      retryMaxMs: u.retry_max_ms,
      inflight: u.inflight,
      ...this.testing,
    };
    return new EnvelopeSender(this.outbox, link, topics, this.ctx.clock, settings, this.ctx.log.child({ service: this.name }));
  }

  /** What happens on connect, on a receipt, on new evidence, and on the timers. */
  private wire(link: MqttConnection, sender: EnvelopeSender, topics: DeviceTopics): void {
    const { log, config } = this.ctx;
    const receipts = new ReceiptHandler(this.ctx.db, this.outbox, new KeySetStore(this.ctx.db), topics.device, this.ctx.clock, this.ctx.audit, log.child({ service: this.name }));
    // The force's desired configuration (retained: it comes at every subscribe) and what the box reports back.
    const desired = this.forcePolicy && new DesiredConfigHandler({ deviceId: topics.device, policy: this.forcePolicy.policy, keyset: () => new KeySetStore(this.ctx.db).current(), audit: this.ctx.audit, now: () => this.ctx.clock.now() });
    const report = (r: ReportedConfigMessage): Promise<void> =>
      link.publish(topics.configReported(), JSON.stringify(r), config.uplink.publish_timeout_ms, { retain: true }).catch((err) => log.warn({ err: errorMessage(err) }, 'cannot report the applied configuration now; again at the next connect'));
    // Retained state is published again after every reconnect (a broker restart may have lost it).
    link.onConnect(async () => {
      await link.publish(topics.state(), this.onlineState!, config.uplink.publish_timeout_ms, { retain: true });
      await this.publishHealth(link, topics);
      if (desired) await report(desired.report());
      this.outbox.retryFailedNow(this.ctx.clock.now());
      sender.wake();
      await this.publishAuditHead(link, topics);
      void this.deletions.queueDue();
    });
    const verifier = new CommandVerifier(this.ctx.db, this.ctx.audit, () => new KeySetStore(this.ctx.db).current(), topics, this.ctx.clock, { clockSynced: () => this.ctx.clockSync.current().synced, bootId: this.ctx.bootId });
    const commands = new FleetCommands(verifier, this.commandHost({ desired, report }), () => this.ctx.clock.now());
    link.onMessage((topic, payload, properties) => {
      if (topic === topics.cmd()) return void this.command(link, topics, commands, payload, properties.responseTopic, properties.correlationData);
      if (desired && topic === topics.configDesired()) {
        const r = desired.handle(payload);
        if (r?.changed) this.forcePolicy!.changed();
        if (r) void report(r.report);
        return;
      }
      if (topic !== topics.receipt()) return;
      const ack = this.auditHeads?.handleAck(payload);
      if (ack) return void this.auditAcknowledged(link, topics, ack);
      const r = receipts.handle(payload);
      if (r.delivered) {
        this.ctx.bus.emit('envelope.delivered', { envelopeId: r.delivered.envelopeId, incidentId: r.delivered.incidentId });
        deleteDeliveredWorkingFiles(this.outbox, log);
      }
      if (r.outcome === 'resend') sender.wake();
    });
    this.unsubscribe.push(this.ctx.bus.on('envelope.queued', () => sender.wake()));
    this.auditTimer = setInterval(() => {
      void this.deletions.queueDue();
      if (link.connected) this.publishAuditHead(link, topics).catch((err) => log.warn({ err: errorMessage(err) }, 'cannot publish the audit head now'));
    }, config.uplink.audit_head_interval_s * 1000);
    this.fullTimer = setInterval(() => this.warnIfFull(), 60_000);
    this.healthTimer = setInterval(() => {
      if (link.connected) void this.publishHealth(link, topics);
    }, config.uplink.health_interval_s * 1000);
    // and on change (a camera's state, the set of alarms), debounced
    this.healthOnChange = new HealthOnChange({
      bus: this.ctx.bus,
      alarms: this.healthAlarms,
      log: log.child({ service: this.name }),
      publish: async () => link.connected && (await this.publishHealth(link, topics)),
    });
    this.healthOnChange.start();
    this.warnIfFull();
  }

  /**
   * A signed command from the force: verified, carried out, answered on this box's own `cmd/res` with the
   * request's correlation data (never on another topic). A reply that cannot be sent is logged: the force
   * sees the command unanswered and may ask again with a new one.
   */
  private async command(link: MqttConnection, topics: DeviceTopics, commands: FleetCommands, payload: Buffer, responseTopic: string | undefined, correlationData: Buffer | undefined): Promise<void> {
    const log = this.ctx.log.child({ service: this.name });
    const { reply, correlationData: correlation, after } = await commands.handle(payload, responseTopic, correlationData);
    if (reply.status === 'ok') log.info({ cmd_id: reply.cmd_id }, 'force command carried out');
    else log.warn({ cmd_id: reply.cmd_id, error: reply.error }, 'force command refused');
    try {
      await link.publish(topics.cmdResult(), JSON.stringify(reply), this.ctx.config.uplink.publish_timeout_ms, correlation ? { properties: { correlationData: correlation } } : {});
    } catch (err) {
      log.warn({ cmd_id: reply.cmd_id, err: errorMessage(err) }, 'cannot send the reply to a force command');
    }
    after?.();
  }

  /**
   * What the force's commands may read and do on this box (fleet/commands.ts); `desired` is the handler of
   * the force's configuration documents (none when this box takes none) and `report` publishes its answer.
   */
  private commandHost(c: { desired: DesiredConfigHandler | undefined; report: (r: ReportedConfigMessage) => Promise<void> }): CommandHost {
    const { ctx } = this;
    const masters = new MastersUploader(ctx, this.outbox);
    return {
      status: () => this.healthDocument(),
      config: () => forceOwnedConfig(ctx),
      setConfig: (doc) => {
        if (!c.desired) throw new HindsightError('this daemon runs without the force-owned configuration', { code: 'no_force_config' });
        const r = c.desired.handle(Buffer.from(JSON.stringify(doc)));
        if (!r) throw new HindsightError('the desired-configuration document is empty', { code: 'config_refused' });
        const { errors, rejected_version: version } = r.report;
        if (errors) throw new HindsightError(`configuration${version === undefined ? '' : ` version ${version}`} refused: ${errors.join('; ')}`, { code: 'config_refused' });
        return {
          report: r.report,
          after: () => {
            if (r.changed) this.forcePolicy!.changed();
            void c.report(r.report);
          },
        };
      },
      installKeySet: (signed, issuerKid) => {
        const ks = new KeySetStore(ctx.db).install(signed, loadEnrollment(ctx.paths.stateDir).force_root.pk, ctx.clock.now(), ctx.audit, `force-command:${issuerKid}`);
        // evidence sealed from now on goes to the new set's recipients
        return { seq: ks.keyset.seq, recipients: ks.keyset.recipients.map((r) => r.kid) };
      },
      holdIncident: (incidentId, days, by) => {
        const incident = new IncidentsRepo(ctx.db).get(incidentId);
        if (!incident) throw new HindsightError(`no incident ${incidentId} on this box`, { code: 'not_found' });
        if (incident.state === 'closed' || incident.state === 'cancelled') throw new HindsightError(`incident ${incidentId} is ${incident.state}: its master clips are no longer kept`, { code: 'masters_gone' });
        const now = ctx.clock.now();
        const until = days > 0 ? now + days * 86_400_000 : undefined;
        new MasterHoldsRepo(ctx.db).set(incidentId, until, `force-command:${by}`, now);
        ctx.audit.append({ actor: { type: 'force', id: by }, action: until ? 'evidence.held' : 'evidence.hold_released', objectIds: [incidentId], detail: { until: until ?? null, days } });
        return { incident_id: incidentId, state: incident.state, masters_kept_until: until ? new Date(until).toISOString() : null };
      },
      resendIncident: (incidentId) => {
        const rows = this.outbox.byIncident(incidentId).filter((r) => r.state === 'pending');
        if (!rows.length) {
          const any = this.outbox.byIncident(incidentId).length > 0;
          throw new HindsightError(any ? `incident ${incidentId} has nothing waiting to be sent (delivered, or refused by the force)` : `incident ${incidentId} has no evidence in the outbox of this box`, { code: 'nothing_to_resend' });
        }
        const now = ctx.clock.now();
        for (const r of rows) this.outbox.scheduleRetry(r.envelopeId, now, r.lastError ?? '');
        queueMicrotask(() => this.sender?.wake());
        return { envelopes: rows.length };
      },
      planMasters: (incidentId, by) => masters.plan(incidentId, by),
      sendMasters: (plan) => masters.send(plan as MastersPlan),
      revokeSessions: () => new WebRepo(ctx.db, ctx.clock).revokeAllSessions(),
      restart: (reason) => ctx.bus.emit('daemon.restart_requested', { reason }),
      logs: (lines, maxBytes) => {
        if (!this.logs) throw new HindsightError('this process keeps no log lines in memory', { code: 'no_log_ring' });
        return this.logs(lines, maxBytes);
      },
      markWipe: (w) => markWipe(ctx.db, ctx.audit, w),
      // the process that runs the daemon stops it, then destroys (nothing may write while it does)
      wipe: (reason) => ctx.bus.emit('daemon.wipe_requested', { reason }),
    };
  }

  /** The health document (PROTOCOL.md): the box's own figures, the time, uptime, version, clock and outbox. */
  private async healthDocument(): Promise<HealthMessage> {
    const clock = this.ctx.clockSync.current();
    const doc: HealthMessage = {
      ...(this.healthFigures ? await this.healthFigures() : {}),
      ts: this.ctx.clock.now(),
      uptime_s: Math.round((Date.now() - this.startedAtMs) / 1000),
      version: this.ctx.version,
      clock: { synced: clock.synced, offset_ms: clock.offset_ms, source: clock.source },
      outbox: roundedOutbox(this.outbox.stats()),
    };
    return checkPayload(HealthPayload, doc);
  }

  /**
   * The health document, retained, so the force's fleet view has every box's latest even after a
   * restart of its own. A failure to collect or send is logged and tried again next time.
   */
  private async publishHealth(link: MqttConnection, topics: DeviceTopics): Promise<boolean> {
    // what changed until now goes in this one
    this.healthOnChange?.sent();
    try {
      await link.publish(topics.health(), JSON.stringify(await this.healthDocument()), this.ctx.config.uplink.publish_timeout_ms, { retain: true });
      return true;
    } catch (err) {
      this.ctx.log.warn({ service: this.name, err: errorMessage(err) }, 'cannot send the health document now; trying again at the next interval');
      return false;
    }
  }

  /**
   * Publish the signed audit head (count, head hash, and the digests of the rows since the head the force
   * acknowledged) so the force can tell a rewritten, truncated or forked log from one that grew.
   */
  private async publishAuditHead(link: MqttConnection, topics: DeviceTopics): Promise<void> {
    const key = readKeyFile(uplinkFiles(this.ctx.paths.stateDir).deviceKey, 'ed25519');
    const { head } = this.heads(topics).next();
    await link.publish(topics.auditHead(), JSON.stringify(signAuditHead(head, key)), this.ctx.config.uplink.publish_timeout_ms, { retain: true });
  }

  private heads(topics: DeviceTopics): AuditHeads {
    this.auditHeads ??= new AuditHeads({ db: this.ctx.db, audit: this.ctx.audit, deviceId: topics.device, keyset: () => new KeySetStore(this.ctx.db).current(), now: () => this.ctx.clock.now() });
    return this.auditHeads;
  }

  /**
   * The force checked a head: rows it covers that are older than `uplink.audit_keep_days` may go (behind
   * the anchor), and a backlog too large for one head goes up at once. A refused acknowledgement is
   * audited and changes nothing.
   */
  private auditAcknowledged(link: MqttConnection, topics: DeviceTopics, ack: { ok: true; count: number } | { ok: false; reason: string }): void {
    const { ctx } = this;
    const log = ctx.log.child({ service: this.name });
    if (!ack.ok) {
      ctx.audit.append({ actor: { type: 'force', id: 'unknown' }, action: 'audit.ack_rejected', result: 'denied', detail: { reason: ack.reason } });
      log.warn({ reason: ack.reason }, 'audit acknowledgement refused');
      return;
    }
    const keepDays = ctx.config.uplink.audit_keep_days;
    if (keepDays > 0) {
      const pruned = ctx.audit.prune(ack.count, ctx.clock.now() - keepDays * 86_400_000);
      if (pruned) log.info({ rows: pruned, acknowledged: ack.count }, `${pruned} audit rows older than ${keepDays} days, acknowledged by the force, pruned behind the anchor`);
    }
    // a backlog larger than one head carries goes up at once; newer rows wait for the next interval
    if (this.heads(topics).next().more) this.publishAuditHead(link, topics).catch((err) => log.warn({ err: errorMessage(err) }, 'cannot publish the audit head now'));
  }

  /** Said every minute while it lasts: a full outbox means new incidents are being refused. */
  private warnIfFull(): void {
    try {
      this.outbox.checkCapacity(0);
    } catch (err) {
      this.ctx.log.error({ service: this.name, outbox: this.outbox.stats(), err: errorMessage(err) }, 'OUTBOX FULL: new incidents are refused until queued evidence reaches the force; nothing queued is dropped');
    }
  }

  /**
   * The box was enrolled (or given a key set) while running: connect now if the link is not up yet, so
   * the operator does not have to restart the daemon.
   */
  enrolled(): void {
    if (!this.link) this.start();
  }

  /** New evidence was queued outside the incident pipeline: send it now. */
  wake(): void {
    this.sender?.wake();
  }

  async stop(): Promise<void> {
    clearInterval(this.auditTimer);
    clearInterval(this.fullTimer);
    clearInterval(this.healthTimer);
    this.healthOnChange?.stop();
    if (this.link?.connected && this.topics) await this.publishAuditHead(this.link, this.topics).catch(() => undefined);
    for (const off of this.unsubscribe.splice(0)) off();
    await this.sender?.stop();
    // A clean disconnect does not fire the will: say `offline` ourselves.
    await this.link?.stop(this.topics && this.offlineState ? { topic: this.topics.state(), payload: this.offlineState, retain: true } : undefined);
    this.sender = undefined;
    this.link = undefined;
  }
}

/**
 * The force-owned part of the running configuration (`get_config`): the caps the force sets, crops-only
 * mode and the uplink's non-secret settings. Nothing of the shop's cameras and no password.
 */
function forceOwnedConfig(ctx: AppContext): Record<string, unknown> {
  const { incidents, vision, uplink, buffer } = ctx.config;
  return {
    incidents: { max_window_s: incidents.max_window_s, per_device_per_hour: incidents.per_device_per_hour, master_retention_days: incidents.master_retention_days },
    buffer: { hours: buffer.hours, force_max_hours: forceMaxHours(new MetaRepo(ctx.db)) ?? null },
    crops_only: !vision.embeddings,
    uplink: { prefix: uplink.prefix, health_interval_s: uplink.health_interval_s, keepalive_s: uplink.keepalive_s, outbox_max_bytes: uplink.outbox_max_bytes, outbox_max_age_days: uplink.outbox_max_age_days },
  };
}

function roundedOutbox(s: OutboxStats): OutboxStats {
  return { pending: s.pending, bytes: s.bytes, oldest_age_s: s.oldest_age_s === null ? null : Math.round(s.oldest_age_s) };
}
