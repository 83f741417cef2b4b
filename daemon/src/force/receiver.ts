import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { MqttConnection } from '../protocol/mqtt.js';
import { DeviceTopics, forceSubscriptions } from '../protocol/topics.js';
import { systemClock, type Clock } from '../util/clock.js';
import { ClockSyncMonitor } from '../util/clock-sync.js';
import { errorMessage, HindsightError } from '../util/errors.js';
import type { ForceConfig } from './config.js';
import { openForceDb, type ForceDb } from './database.js';
import { FleetIntake } from './fleet.js';
import { CommandDispatch } from './commands.js';
import { ConfigSync } from './desired-config.js';
import { AuditHeadCheck } from './audit-heads.js';
import { EnvelopeIntake } from './intake.js';
import { IntakeGate } from './intake-gate.js';
import { ReceiverMetrics, type MessageKind } from './receiver-metrics.js';
import { loadKeySet, loadReceiptKey, loadRecipientKeys } from './keys.js';
import { forcePaths } from './paths.js';
import { openWorkbench } from './workbench-setup.js';
import { purgeDeleted } from './db/purge.js';

/** Receipts waiting for the broker's acknowledgement at once; past this a receipt is not sent (the box asks again). */
const MAX_ANSWERS_IN_FLIGHT = 1000;

/**
 * `hindsight force receive`: the intake on the broker. A persistent session on an MQTT 5 shared
 * subscription (`$share/<group>/...`), so several receivers split the load and messages queue at the
 * broker while all of them are down.
 */
export class ForceReceiver {
  private link: MqttConnection | undefined;
  private fdb: ForceDb | undefined;
  private intake: EnvelopeIntake | undefined;
  private commands: CommandDispatch | undefined;
  private configs: ConfigSync | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;
  private readonly clockSync = new ClockSyncMonitor();
  private clockTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private gate: IntakeGate | undefined;
  private metrics: ReceiverMetrics | undefined;
  /** Receipts and acknowledgements sent and not yet acknowledged by the broker. */
  private readonly answering = new Set<Promise<void>>();

  constructor(
    private readonly config: ForceConfig,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Start; the address of the receiver's own metrics when intake.metrics_listen asks for them. */
  async start(): Promise<string | undefined> {
    const c = this.config;
    if (!c.mqtt.url) throw new HindsightError('mqtt.url is not set in the force config', { code: 'config', hint: 'set mqtt.url (mqtts://host:port)' });
    if (!c.mqtt.password) throw new HindsightError('mqtt.password is not set in the force config', { code: 'config', hint: 'set mqtt.password_file (written by `hindsight force keygen`)' });
    const recipientKeys = loadRecipientKeys(c.force.dir);
    if (!recipientKeys.length) throw new HindsightError(`no recipient keys in ${forcePaths(c.force.dir).keysDir}`, { code: 'force_no_keys', hint: 'run `hindsight force keygen`' });
    // Audit rows carry the clock's real NTP state: read before the first message, then every minute.
    // its own figures first: a bad address stops the start before anything is received
    let metricsAt: string | undefined;
    if (c.intake.metrics_listen) {
      this.metrics = new ReceiverMetrics({ gate: () => this.gate, capBytes: c.intake.max_bytes_in_flight, connected: () => this.link?.connected ?? false });
      metricsAt = await this.metrics.listen(c.intake.metrics_listen);
    }
    this.fdb = openForceDb(c.force.dir, this.clock, () => this.clockSync.current());
    this.queue = this.clockSync.refresh().catch(() => undefined);
    this.clockTimer = setInterval(() => void this.clockSync.refresh().catch(() => undefined), 60_000);
    this.clockTimer.unref();
    const gate = new IntakeGate({ capBytes: c.intake.max_bytes_in_flight, receiveMaximum: c.intake.receive_maximum, log: this.log, now: () => this.clock.now() });
    this.gate = gate;
    const link = new MqttConnection({
      url: c.mqtt.url,
      ca: readFileSync(c.mqtt.ca_file),
      username: c.mqtt.username,
      password: c.mqtt.password,
      clientId: c.force.client_id,
      clean: false,
      sessionExpiryS: 7 * 86_400,
      keepaliveS: 30,
      reconnectMs: 2000,
      subscriptions: [
        { topic: `$share/${c.force.share_group}/${forceSubscriptions(c.force.prefix).evidence}`, qos: 1 },
        // presence, health, configuration reports and audit heads are retained: every receiver takes them all (not shared), each write is the same
        { topic: forceSubscriptions(c.force.prefix).state, qos: 1 },
        { topic: forceSubscriptions(c.force.prefix).health, qos: 1 },
        { topic: forceSubscriptions(c.force.prefix).configReported, qos: 1 },
        { topic: forceSubscriptions(c.force.prefix).auditHead, qos: 1 },
        // each reply to a command is recorded by one receiver
        { topic: `$share/${c.force.share_group}/${forceSubscriptions(c.force.prefix).cmdResult}`, qos: 1 },
      ],
      log: this.log,
      receiveMaximum: c.intake.receive_maximum,
      admission: () => gate.admit(),
    });
    // A publish whose outcome the caller needs (a command, a desired configuration) goes under the gate: the
    // connection takes enough messages to reach the broker's acknowledgement.
    const publish = (topic: string, payload: string, options: Parameters<MqttConnection['publish']>[3] = {}): Promise<void> => gate.whilePublishing(() => link.publish(topic, payload, c.mqtt.publish_timeout_ms, options));
    // A receipt or an audit-head acknowledgement is sent without the queue waiting for the broker's
    // acknowledgement (a paused connection holds that back): one that fails is logged, and the box, which
    // gets none, sends again and is answered then.
    const answer = (device: string, payload: string, what: string): Promise<void> => {
      if (this.answering.size >= MAX_ANSWERS_IN_FLIGHT) {
        this.log.warn({ device, inFlight: this.answering.size }, `too many answers waiting for the broker; this ${what} is not sent (the box sends again)`);
        return Promise.resolve();
      }
      const p = link
        .publish(new DeviceTopics(c.force.prefix, device).receipt(), payload, c.mqtt.publish_timeout_ms)
        .catch((err) => this.log.warn({ device, err: errorMessage(err) }, `cannot send the ${what} now; the box sends again and gets it then`))
        .finally(() => this.answering.delete(p));
      this.answering.add(p);
      return Promise.resolve();
    };
    this.intake = new EnvelopeIntake({
      db: this.fdb.db,
      audit: this.fdb.audit,
      storeDir: path.join(forcePaths(c.force.dir).store),
      prefix: c.force.prefix,
      caps: c.caps,
      recipientKeys: () => loadRecipientKeys(c.force.dir),
      keyset: () => loadKeySet(c.force.dir),
      receiptKey: loadReceiptKey(c.force.dir),
      clock: this.clock,
      log: this.log,
      sendReceipt: (device, payload) => answer(device, payload, 'receipt'),
      rejectionLimits: { perMinute: c.intake.rejections_per_min, summaryS: c.intake.rejections_summary_s },
    });
    const fleet = new FleetIntake({ db: this.fdb.db, clock: this.clock, log: this.log, prefix: c.force.prefix });
    const commands = new CommandDispatch({
      db: this.fdb.db,
      audit: this.fdb.audit,
      prefix: c.force.prefix,
      clock: this.clock,
      log: this.log,
      publish: (topic, payload, properties) => publish(topic, payload, { properties }),
    });
    this.commands = commands;
    const configs = new ConfigSync({ db: this.fdb.db, prefix: c.force.prefix, clock: this.clock, log: this.log, publishRetained: (topic, payload) => publish(topic, payload, { retain: true }) });
    this.configs = configs;
    const auditHeads = new AuditHeadCheck({
      db: this.fdb.db,
      audit: this.fdb.audit,
      clock: this.clock,
      log: this.log,
      receiptKey: loadReceiptKey(c.force.dir),
      sendAck: (device, payload) => answer(device, payload, 'audit head acknowledgement'),
    });
    // One message at a time in this process; the database arbitrates between processes.
    link.onMessage((topic, payload, properties) => {
      // counted from now until handled: above the cap the connection takes no more (the gate)
      gate.take(payload.length);
      this.queue = this.queue
        .then(async () => {
          const counted = (kind: MessageKind): true => (this.metrics?.messages.inc({ kind }), true);
          if (fleet.handle(topic, payload)) return counted('fleet');
          if (commands.handle(topic, payload, properties)) return counted('command');
          if (configs.handle(topic, payload)) return counted('config');
          if (await auditHeads.handleTopic(c.force.prefix, topic, payload)) return counted('audit_head');
          counted('evidence');
          this.log.debug({ topic, bytes: payload.length }, 'evidence message');
          const outcome = await this.intake?.handle(topic, payload);
          if (outcome) this.metrics?.evidence.inc({ outcome: outcome.kind });
          return outcome;
        })
        .catch((err) => {
          this.metrics?.evidence.inc({ outcome: 'failed' });
          this.log.error({ err, topic }, 'intake failed');
        })
        .finally(() => gate.release(payload.length));
    });
    // the broker login too: several receivers share the group, each under its own user
    link.onConnect(() => this.log.info({ group: c.force.share_group, user: c.mqtt.username }, 'receiving evidence'));
    this.link = link;
    link.start();
    this.timer = setInterval(() => void this.sweep(), Math.min(1000, c.caps.missing_after_s * 500));
    // incidents nobody triaged in time are deleted: at start, then every hour
    const workbench = openWorkbench(c, this.fdb, this.clock, this.log);
    const expire = (): void => {
      this.queue = this.queue
        .then(() => {
          const n = workbench.expireDue();
          // deleted rows' old pages leave the WAL even if a reader held back the last deletion's checkpoint
          purgeDeleted(this.fdb!.db);
          if (n) this.log.info({ deleted: n }, `${n} incident(s) not triaged within ${c.workbench.triage_max_days} days deleted, with deletion receipts`);
        })
        .catch((err) => this.log.error({ err }, 'cannot delete the incidents past their triage time; trying again in an hour'));
    };
    expire();
    this.expiryTimer = setInterval(expire, 3_600_000);
    this.expiryTimer.unref();
    return metricsAt;
  }

  private async sweep(): Promise<void> {
    if (this.sweeping || !this.link?.connected) return;
    this.sweeping = true;
    try {
      this.queue = this.queue.then(async () => {
        await this.intake?.sweep();
        // commands an admin queued (the CLI or the console) go out within a second
        await this.commands?.sendDue();
        await this.configs?.publishDue();
      });
      await this.queue;
    } catch (err) {
      this.log.error({ err }, 'sweep failed');
    } finally {
      this.sweeping = false;
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    clearInterval(this.clockTimer);
    clearInterval(this.expiryTimer);
    await this.link?.stop();
    await this.queue.catch(() => undefined);
    await Promise.all(this.answering);
    // what was suppressed so far is counted before the process ends
    try {
      this.intake?.flushSuppressed(true);
    } catch (err) {
      this.log.error({ err }, 'cannot record the summary of suppressed rejections');
    }
    if (this.gate) this.log.info({ ...this.gate.stats }, 'intake stopped');
    await this.metrics?.close();
    this.fdb?.close();
  }
}
