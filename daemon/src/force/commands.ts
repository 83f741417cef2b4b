import type { Logger } from 'pino';
import type { AuditActor, AuditLog } from '../audit/log.js';
import { SIG_CONTEXT, signWith, type KeyPairFile } from '../crypto/keys.js';
import type { Db } from '../db/db.js';
import type { MessageProperties } from '../protocol/mqtt.js';
import { CommandBody, CommandResultPayload, checkPayload, parsePayload, type CommandMessage } from '../protocol/schemas.js';
import { DeviceTopics, parseUpTopic } from '../protocol/topics.js';
import { canonicalBytes } from '../util/canonical.js';
import type { Clock } from '../util/clock.js';
import { errorMessage, UsageError } from '../util/errors.js';
import { newId } from '../util/ids.js';
import { CommandsRepo, type FleetCommand } from './db/commands.js';
import { DeviceRegistry } from './registry.js';

/**
 * The force's side of signed commands (PROTOCOL.md): an admin's command is signed with the force's
 * command key and queued in the database; a running receiver publishes it to the box's `cmd` topic with
 * `cmd/res` as the response topic and the command id as correlation data, and records the box's reply.
 * The database is the queue, so a command survives a receiver's restart, several receivers send each
 * command once, and the CLI that asked waits for the reply by reading it.
 */

/** Command publishes in flight at once (the broker's QoS 1 acknowledgements come back in parallel). */
const SEND_AT_ONCE = 100;

/** The box refuses a lifetime above 300 s (iat to exp). */
export const MAX_COMMAND_TTL_S = 300;

export interface IssueRequest {
  deviceId: string;
  op: string;
  args: Record<string, unknown>;
  ttlS: number;
  /** The job this command is part of (the same command to several boxes). */
  jobId?: string;
}

export class CommandIssuer {
  private readonly repo: CommandsRepo;
  private readonly registry: DeviceRegistry;

  constructor(
    private readonly d: { db: Db; audit: AuditLog; key: KeyPairFile; clock: Clock },
  ) {
    this.repo = new CommandsRepo(d.db);
    this.registry = new DeviceRegistry(d.db);
  }

  /** Sign and queue one command (its sequence number, row and audit row, with why when given, in one transaction). */
  issue(r: IssueRequest, by: AuditActor, justification?: string): FleetCommand {
    const device = this.registry.get(r.deviceId);
    if (!device) throw new UsageError(`box ${JSON.stringify(r.deviceId.slice(0, 64))} is not enrolled with this force`, { hint: '`hindsight-force fleet list` shows the boxes' });
    if (device.revoked) throw new UsageError(`box ${r.deviceId} is revoked: it is sent nothing`);
    if (!Number.isFinite(r.ttlS) || r.ttlS < 5 || r.ttlS > MAX_COMMAND_TTL_S) throw new UsageError(`--ttl must be 5 to ${MAX_COMMAND_TTL_S} seconds (a box refuses a longer-lived command)`);
    return this.d.db
      .transaction(() => {
        const now = this.d.clock.now();
        const cmd = checkPayload(CommandBody, {
          v: 1 as const,
          cmd_id: `c${newId()}`,
          device_id: r.deviceId,
          issuer_kid: this.d.key.kid,
          op: r.op,
          args: r.args,
          seq: this.repo.nextSeq(this.d.key.kid, now),
          iat: now,
          exp: now + r.ttlS * 1000,
        });
        const signed: CommandMessage = { kid: this.d.key.kid, cmd, sig: signWith(this.d.key, SIG_CONTEXT.command, canonicalBytes(cmd)) };
        const row = { cmdId: cmd.cmd_id, deviceId: cmd.device_id, op: cmd.op, args: cmd.args, issuerKid: cmd.issuer_kid, seq: cmd.seq, iatUtc: cmd.iat, expUtc: cmd.exp, signed: JSON.stringify(signed), requestedBy: by.id, createdUtc: now, jobId: r.jobId ?? null };
        this.repo.insert(row);
        this.d.audit.append({ actor: by, action: 'fleet.command_issued', objectIds: [cmd.cmd_id, cmd.device_id], ...(justification ? { justification } : {}), detail: { op: cmd.op, seq: cmd.seq, exp: cmd.exp, job: r.jobId ?? null } });
        return this.repo.get(cmd.cmd_id)!;
      })
      .immediate();
  }
}

/** Publishes queued commands and takes the boxes' replies (runs in the receiver). */
export class CommandDispatch {
  private readonly repo: CommandsRepo;
  private busy = false;

  constructor(
    private readonly d: {
      db: Db;
      audit: AuditLog;
      prefix: string;
      clock: Clock;
      log: Logger;
      publish: (topic: string, payload: string, properties: { responseTopic: string; correlationData: Buffer }) => Promise<void>;
    },
  ) {
    this.repo = new CommandsRepo(d.db);
  }

  /**
   * Send what is queued (each once, across receivers; up to SEND_AT_ONCE publishes in flight, pass after
   * pass while there is more) and expire what nobody answered in time.
   */
  async sendDue(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (const c of this.repo.expire(this.d.clock.now())) {
        this.d.log.warn({ cmd_id: c.cmdId, device: c.deviceId, op: c.op, sent: c.sentUtc !== null }, `command ${c.op} to ${c.deviceId} expired without a reply${c.sentUtc === null ? ' (never sent: no receiver connected)' : ' (the box is offline or did not answer)'}`);
      }
      for (;;) {
        const due = this.repo.due(this.d.clock.now(), SEND_AT_ONCE).filter((c) => this.repo.markSent(c.cmdId, this.d.clock.now()));
        if (!due.length) return;
        const failed = (await Promise.all(due.map((c) => this.send(c)))).filter((ok) => !ok).length;
        // the link is down: the rest waits for the next pass, while it is valid
        if (failed) return;
      }
    } finally {
      this.busy = false;
    }
  }

  private async send(c: FleetCommand): Promise<boolean> {
    const topics = new DeviceTopics(this.d.prefix, c.deviceId);
    try {
      await this.d.publish(topics.cmd(), c.signed, { responseTopic: topics.cmdResult(), correlationData: Buffer.from(c.cmdId) });
      this.d.log.info({ cmd_id: c.cmdId, device: c.deviceId, op: c.op }, 'command sent');
      return true;
    } catch (err) {
      this.repo.unsend(c.cmdId);
      this.d.log.warn({ cmd_id: c.cmdId, device: c.deviceId, err: errorMessage(err) }, 'cannot send a command now; trying again while it is valid');
      return false;
    }
  }

  /** True when the topic was a command reply (recorded or dropped), false for anything else. */
  handle(topic: string, payload: Buffer, properties: MessageProperties): boolean {
    const t = parseUpTopic(this.d.prefix, topic);
    if (t?.kind !== 'cmdResult') return false;
    try {
      const r = parsePayload(CommandResultPayload, payload, 256 * 1024);
      const correlation = properties.correlationData?.toString('utf8');
      if (correlation !== undefined && correlation !== r.cmd_id) throw new Error(`correlation data ${JSON.stringify(correlation.slice(0, 64))} is not the command id ${r.cmd_id}`);
      const recorded = this.d.db.transaction(() => {
        const ok = this.repo.reply(r.cmd_id, t.device, r.status === 'ok', r.data, r.status === 'ok' ? null : (r.error ?? 'error'), this.d.clock.now());
        if (ok) this.d.audit.append({ actor: { type: 'device', id: t.device }, action: 'fleet.command_replied', objectIds: [r.cmd_id, t.device], result: r.status === 'ok' ? 'ok' : 'error', detail: r.status === 'ok' ? {} : { error: r.error ?? null } });
        return ok;
      })();
      if (recorded) this.d.log.info({ cmd_id: r.cmd_id, device: t.device, status: r.status, error: r.error }, 'command reply');
      else this.d.log.warn({ cmd_id: r.cmd_id, device: t.device, status: r.status, error: r.error }, 'reply to no command of this force sent to that box (or a duplicate): dropped');
    } catch (err) {
      this.d.log.warn({ device: t.device, err: errorMessage(err) }, 'malformed command reply dropped');
    }
    return true;
  }
}
