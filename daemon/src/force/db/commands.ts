import type { Db } from '../../db/db.js';
import { statement } from '../../db/statements.js';

export type CommandStatus = 'queued' | 'sent' | 'done' | 'failed' | 'expired';

/** A signed command to one box, as the force keeps it. */
export interface FleetCommand {
  cmdId: string;
  deviceId: string;
  op: string;
  args: Record<string, unknown>;
  issuerKid: string;
  seq: number;
  iatUtc: number;
  expUtc: number;
  /** The signed envelope exactly as published ({kid, cmd, sig}). */
  signed: string;
  status: CommandStatus;
  requestedBy: string;
  createdUtc: number;
  sentUtc: number | null;
  repliedUtc: number | null;
  /** The box's reply data (status ok), or null. */
  reply: unknown;
  /** Why it failed: the box's error, or 'no reply before it expired'. */
  error: string | null;
  /** The job it belongs to (one command to several boxes), or null. */
  jobId: string | null;
}

interface Row {
  cmd_id: string;
  device_id: string;
  op: string;
  args: string;
  issuer_kid: string;
  seq: number;
  iat_utc: number;
  exp_utc: number;
  signed: string;
  status: CommandStatus;
  requested_by: string;
  created_utc: number;
  sent_utc: number | null;
  replied_utc: number | null;
  reply: string | null;
  error: string | null;
  job_id: string | null;
}

const fromRow = (r: Row): FleetCommand => ({
  cmdId: r.cmd_id,
  deviceId: r.device_id,
  op: r.op,
  args: JSON.parse(r.args) as Record<string, unknown>,
  issuerKid: r.issuer_kid,
  seq: r.seq,
  iatUtc: r.iat_utc,
  expUtc: r.exp_utc,
  signed: r.signed,
  status: r.status,
  requestedBy: r.requested_by,
  createdUtc: r.created_utc,
  sentUtc: r.sent_utc,
  repliedUtc: r.replied_utc,
  reply: r.reply === null ? null : JSON.parse(r.reply),
  error: r.error,
  jobId: r.job_id,
});

/** The `fleet_commands` and `command_seq` tables. */
export class CommandsRepo {
  constructor(private readonly db: Db) {}

  /**
   * The next sequence number of an issuer key: above the last one, and at least the time in ms. Boxes
   * refuse a sequence at or below the last they saw, so a force database restored from an older backup
   * still issues numbers above what they saw. Call inside the issuing transaction.
   */
  nextSeq(issuerKid: string, nowUtc: number): number {
    const r = statement(this.db, 'INSERT INTO command_seq (issuer_kid, last_seq) VALUES (?, ?) ON CONFLICT (issuer_kid) DO UPDATE SET last_seq = MAX(last_seq + 1, excluded.last_seq) RETURNING last_seq').get(
      issuerKid,
      Math.max(1, Math.floor(nowUtc)),
    ) as { last_seq: number };
    return r.last_seq;
  }

  insert(c: Omit<FleetCommand, 'status' | 'sentUtc' | 'repliedUtc' | 'reply' | 'error'>): void {
    statement(
      this.db,
      `INSERT INTO fleet_commands (cmd_id, device_id, op, args, issuer_kid, seq, iat_utc, exp_utc, signed, status, requested_by, created_utc, job_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?)`,
    ).run(c.cmdId, c.deviceId, c.op, JSON.stringify(c.args), c.issuerKid, c.seq, c.iatUtc, c.expUtc, c.signed, c.requestedBy, c.createdUtc, c.jobId);
  }

  /** The commands of one job, by box. */
  ofJob(jobId: string): FleetCommand[] {
    return (statement(this.db, 'SELECT * FROM fleet_commands WHERE job_id = ? ORDER BY device_id').all(jobId) as Row[]).map(fromRow);
  }

  get(cmdId: string): FleetCommand | undefined {
    const r = statement(this.db, 'SELECT * FROM fleet_commands WHERE cmd_id = ?').get(cmdId) as Row | undefined;
    return r && fromRow(r);
  }

  /** Newest first, of one box or of all. */
  list(deviceId: string | undefined, limit: number): FleetCommand[] {
    const rows = deviceId
      ? statement(this.db, 'SELECT * FROM fleet_commands WHERE device_id = ? ORDER BY created_utc DESC, seq DESC LIMIT ?').all(deviceId, limit)
      : statement(this.db, 'SELECT * FROM fleet_commands ORDER BY created_utc DESC, seq DESC LIMIT ?').all(limit);
    return (rows as Row[]).map(fromRow);
  }

  /** Queued commands still valid, oldest first. */
  due(nowUtc: number, limit: number): FleetCommand[] {
    return (statement(this.db, "SELECT * FROM fleet_commands WHERE status = 'queued' AND exp_utc > ? ORDER BY created_utc, seq LIMIT ?").all(nowUtc, limit) as Row[]).map(fromRow);
  }

  /** Queued -> sent; false when another receiver got there first. */
  markSent(cmdId: string, nowUtc: number): boolean {
    return statement(this.db, "UPDATE fleet_commands SET status = 'sent', sent_utc = ? WHERE cmd_id = ? AND status = 'queued'").run(nowUtc, cmdId).changes === 1;
  }

  /** Back to queued after a publish failed (the link dropped): sent again by the next pass while valid. */
  unsend(cmdId: string): void {
    statement(this.db, "UPDATE fleet_commands SET status = 'queued', sent_utc = NULL WHERE cmd_id = ? AND status = 'sent'").run(cmdId);
  }

  /** Commands past their expiry with no reply; returns them (now expired). */
  expire(nowUtc: number): FleetCommand[] {
    const rows = statement(this.db, "UPDATE fleet_commands SET status = 'expired', error = 'no reply before it expired' WHERE status IN ('queued', 'sent') AND exp_utc <= ? RETURNING *").all(nowUtc) as Row[];
    return rows.map(fromRow);
  }

  /**
   * The box's reply. Taken only from the box the command was for, once (a duplicate of a delivered reply
   * changes nothing); a reply arriving just after the force gave up still counts: the box did it.
   */
  reply(cmdId: string, deviceId: string, ok: boolean, data: unknown, error: string | null, nowUtc: number): boolean {
    return (
      statement(this.db, "UPDATE fleet_commands SET status = ?, replied_utc = ?, reply = ?, error = ? WHERE cmd_id = ? AND device_id = ? AND status IN ('queued', 'sent', 'expired')").run(
        ok ? 'done' : 'failed',
        nowUtc,
        data === undefined ? null : JSON.stringify(data),
        error,
        cmdId,
        deviceId,
      ).changes === 1
    );
  }
}
