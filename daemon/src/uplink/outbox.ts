import type { AuditLog } from '../audit/log.js';
import type { EnvelopeManifest, SealedEnvelope } from '../crypto/envelope.js';
import type { Db } from '../db/db.js';
import type { Clock } from '../util/clock.js';
import { HindsightError } from '../util/errors.js';

/**
 * The durable outbox: sealed envelopes (ciphertext only) waiting for the force's signed `complete`
 * receipt. Everything is driven from these rows, so a crash or a broker outage at any point resumes from
 * the database. Bounded by age and bytes: when full, new evidence is refused loudly; nothing queued is
 * ever dropped.
 */

export interface OutboxBounds {
  maxBytes: number;
  maxAgeMs: number;
}

export class OutboxFullError extends HindsightError {
  constructor(message: string) {
    super(message, {
      code: 'outbox_full',
      hint: 'the box cannot reach the force: check the uplink (broker URL, network, credentials) with `hindsight uplink status`; queued evidence is kept and sent when the link returns',
    });
  }
}

export interface OutboxRow {
  envelopeId: string;
  incidentId: string;
  msgSeq: number;
  createdUtc: number;
  state: 'pending' | 'delivered';
  manifest: EnvelopeManifest;
  nChunks: number;
  bytes: number;
  bodySha256: string;
  workingFiles: string[];
  attempts: number;
  nextAttemptUtc: number;
  lastSentUtc: number | null;
  /** Chunk indices a `missing` receipt asked for; null means send everything. */
  resend: number[] | null;
  lastError: string | null;
  deliveredUtc: number | null;
  filesDeletedUtc: number | null;
}

interface DbRow {
  envelope_id: string;
  incident_id: string;
  msg_seq: number;
  created_utc: number;
  state: 'pending' | 'delivered';
  manifest: string;
  n_chunks: number;
  bytes: number;
  body_sha256: string;
  working_files: string;
  attempts: number;
  next_attempt_utc: number;
  last_sent_utc: number | null;
  resend: string | null;
  last_error: string | null;
  delivered_utc: number | null;
  files_deleted_utc: number | null;
}

function fromDb(r: DbRow): OutboxRow {
  return {
    envelopeId: r.envelope_id,
    incidentId: r.incident_id,
    msgSeq: r.msg_seq,
    createdUtc: r.created_utc,
    state: r.state,
    manifest: JSON.parse(r.manifest) as EnvelopeManifest,
    nChunks: r.n_chunks,
    bytes: r.bytes,
    bodySha256: r.body_sha256,
    workingFiles: JSON.parse(r.working_files) as string[],
    attempts: r.attempts,
    nextAttemptUtc: r.next_attempt_utc,
    lastSentUtc: r.last_sent_utc,
    resend: r.resend === null ? null : (JSON.parse(r.resend) as number[]),
    lastError: r.last_error,
    deliveredUtc: r.delivered_utc,
    filesDeletedUtc: r.files_deleted_utc,
  };
}

export interface DeliveredInfo {
  envelopeId: string;
  incidentId: string;
  deliveredUtc: number;
  receiptSignerKid: string;
}

/** Runs inside the transaction that marks an envelope delivered (e.g. the incident moves to `delivered`). */
export type DeliveryHook = (info: DeliveredInfo) => void;

export interface OutboxStats {
  pending: number;
  bytes: number;
  oldest_age_s: number | null;
}

const MSG_SEQ_KEY = 'uplink.msg_seq';

export class Outbox {
  private readonly hooks = new Set<DeliveryHook>();

  constructor(
    private readonly db: Db,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly bounds: OutboxBounds,
  ) {}

  /**
   * Reserve the next envelope sequence number (it goes into the signed header before sealing).
   * Its own small transaction: a sealing that fails leaves a gap, which the force tolerates.
   */
  reserveMsgSeq(): number {
    return this.db
      .transaction(() => {
        const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(MSG_SEQ_KEY) as { value: string } | undefined;
        const maxQueued = (this.db.prepare('SELECT MAX(msg_seq) AS m FROM outbox').get() as { m: number | null }).m ?? 0;
        const next = Math.max(Number(row?.value ?? 0), maxQueued) + 1;
        this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(MSG_SEQ_KEY, String(next));
        return next;
      })
      .immediate();
  }

  stats(): OutboxStats {
    const r = this.db.prepare("SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b, MIN(created_utc) AS oldest FROM outbox WHERE state = 'pending'").get() as { n: number; b: number; oldest: number | null };
    return { pending: r.n, bytes: r.b, oldest_age_s: r.oldest === null ? null : Math.max(0, (this.clock.now() - r.oldest) / 1000) };
  }

  /**
   * Throw OutboxFullError if `bytes` more would break a bound. The incident code calls this before it
   * starts sealing (so staff are told at once), and `enqueue` checks again.
   */
  /** Whether new evidence would be accepted now (below the byte and age bounds). */
  hasCapacity(): boolean {
    try {
      this.checkCapacity(0);
      return true;
    } catch {
      return false;
    }
  }

  checkCapacity(bytes: number): void {
    const s = this.stats();
    if (s.bytes + bytes > this.bounds.maxBytes) {
      throw new OutboxFullError(`the outbox holds ${s.bytes} bytes of undelivered evidence; ${bytes} more would exceed its limit of ${this.bounds.maxBytes}`);
    }
    if (s.oldest_age_s !== null && s.oldest_age_s * 1000 > this.bounds.maxAgeMs) {
      throw new OutboxFullError(`undelivered evidence has waited ${Math.round(s.oldest_age_s / 86400)} days (limit ${Math.round(this.bounds.maxAgeMs / 86_400_000)}); new evidence is refused until it is delivered`);
    }
  }

  /**
   * Queue a sealed envelope. Synchronous: the incident code calls it inside the same `db.transaction`
   * that moves the incident to `sealed`, so both happen or neither. `workingFiles` are the plaintext files
   * (crops, embeddings) deleted after the force's signed `complete` receipt.
   */
  enqueue(sealed: SealedEnvelope, options: { workingFiles?: string[] } = {}): void {
    const m = sealed.manifest;
    const bytes = sealed.chunks.reduce((n, c) => n + c.length, 0);
    const write = (): void => {
      this.checkCapacity(bytes);
      this.db
        .prepare(
          `INSERT INTO outbox (envelope_id, incident_id, msg_seq, created_utc, state, manifest, n_chunks, bytes, body_sha256, working_files, next_attempt_utc)
           VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, 0)`,
        )
        .run(m.header.envelope_id, m.header.incident_id, m.header.msg_seq, this.clock.now(), JSON.stringify(m), m.n_chunks, bytes, m.body_sha256, JSON.stringify(options.workingFiles ?? []));
      const ins = this.db.prepare('INSERT INTO outbox_chunks (envelope_id, idx, data) VALUES (?, ?, ?)');
      sealed.chunks.forEach((c, i) => ins.run(m.header.envelope_id, i, c));
      this.audit.append({
        actor: { type: 'system', id: 'uplink' },
        action: 'evidence.sealed',
        objectIds: [m.header.incident_id, m.header.envelope_id],
        sha256s: [m.body_sha256],
        recipient: m.header.recipients.join(','),
        detail: { msg_seq: m.header.msg_seq, bytes, n_chunks: m.n_chunks, plaintext_bytes: m.header.pt_len },
      });
    };
    if (this.db.inTransaction) write();
    else this.db.transaction(write).immediate();
  }

  get(envelopeId: string): OutboxRow | undefined {
    const r = this.db.prepare('SELECT * FROM outbox WHERE envelope_id = ?').get(envelopeId) as DbRow | undefined;
    return r && fromDb(r);
  }

  byIncident(incidentId: string): OutboxRow[] {
    return (this.db.prepare('SELECT * FROM outbox WHERE incident_id = ? ORDER BY msg_seq').all(incidentId) as DbRow[]).map(fromDb);
  }

  /** The oldest pending envelope whose next attempt is due. */
  nextDue(now: number): OutboxRow | undefined {
    const r = this.db.prepare("SELECT * FROM outbox WHERE state = 'pending' AND next_attempt_utc <= ? ORDER BY next_attempt_utc, msg_seq LIMIT 1").get(now) as DbRow | undefined;
    return r && fromDb(r);
  }

  /** Earliest next attempt among pending envelopes (for the sender's timer). */
  nextWake(): number | undefined {
    const r = this.db.prepare("SELECT MIN(next_attempt_utc) AS t FROM outbox WHERE state = 'pending'").get() as { t: number | null };
    return r.t ?? undefined;
  }

  chunk(envelopeId: string, index: number): Buffer | undefined {
    const r = this.db.prepare('SELECT data FROM outbox_chunks WHERE envelope_id = ? AND idx = ?').get(envelopeId, index) as { data: Buffer } | undefined;
    return r?.data;
  }

  /** Everything was handed to the broker; wait for the receipt until `receiptDueUtc`. */
  markSent(envelopeId: string, now: number, receiptDueUtc: number, sentIndices: number): void {
    this.db.transaction(() => {
      const row = this.get(envelopeId);
      if (!row || row.state !== 'pending') return;
      this.db
        .prepare('UPDATE outbox SET attempts = attempts + 1, last_sent_utc = ?, next_attempt_utc = ?, resend = NULL, last_error = NULL WHERE envelope_id = ?')
        .run(now, receiptDueUtc, envelopeId);
      this.audit.append({
        actor: { type: 'system', id: 'uplink' },
        action: 'evidence.sent',
        objectIds: [row.incidentId, envelopeId],
        sha256s: [row.bodySha256],
        recipient: row.manifest.header.recipients.join(','),
        detail: { attempt: row.attempts + 1, chunks_sent: sentIndices, n_chunks: row.nChunks, partial: row.resend !== null },
      });
    })();
  }

  scheduleRetry(envelopeId: string, nextAttemptUtc: number, error: string): void {
    this.db.prepare("UPDATE outbox SET attempts = attempts + 1, next_attempt_utc = ?, last_error = ? WHERE envelope_id = ? AND state = 'pending'").run(nextAttemptUtc, error.slice(0, 500), envelopeId);
  }

  /** After a reconnect, envelopes whose last attempt failed are due at once (not after their backoff). */
  retryFailedNow(now: number): void {
    this.db.prepare("UPDATE outbox SET next_attempt_utc = ? WHERE state = 'pending' AND last_error IS NOT NULL AND next_attempt_utc > ?").run(now, now);
  }

  /** A `missing` receipt: resend just these chunks, now. */
  requestResend(envelopeId: string, indices: number[], now: number): void {
    this.db.prepare("UPDATE outbox SET resend = ?, next_attempt_utc = ? WHERE envelope_id = ? AND state = 'pending'").run(JSON.stringify(indices), now, envelopeId);
  }

  onDelivered(hook: DeliveryHook): () => void {
    this.hooks.add(hook);
    return () => this.hooks.delete(hook);
  }

  /**
   * A verified `complete` receipt: in one transaction mark the envelope delivered, drop its ciphertext,
   * audit it and run the delivery hooks (the incident becomes `delivered`). Returns false if it was not
   * pending (a duplicate receipt).
   */
  markDelivered(envelopeId: string, receiptSignerKid: string, receiptJson: string): DeliveredInfo | undefined {
    return this.db
      .transaction((): DeliveredInfo | undefined => {
        const row = this.get(envelopeId);
        if (!row || row.state !== 'pending') return undefined;
        const now = this.clock.now();
        this.db.prepare("UPDATE outbox SET state = 'delivered', delivered_utc = ?, receipt = ?, resend = NULL WHERE envelope_id = ?").run(now, receiptJson, envelopeId);
        this.db.prepare('DELETE FROM outbox_chunks WHERE envelope_id = ?').run(envelopeId);
        this.audit.append({
          actor: { type: 'system', id: 'uplink' },
          action: 'evidence.delivered',
          objectIds: [row.incidentId, envelopeId],
          sha256s: [row.bodySha256],
          recipient: receiptSignerKid,
          detail: { attempts: row.attempts, msg_seq: row.msgSeq },
        });
        const info: DeliveredInfo = { envelopeId, incidentId: row.incidentId, deliveredUtc: now, receiptSignerKid };
        for (const hook of this.hooks) hook(info);
        return info;
      })
      .immediate();
  }

  /** Delivered envelopes whose plaintext working files are not yet deleted (also after a crash). */
  awaitingFileDeletion(): OutboxRow[] {
    return (this.db.prepare("SELECT * FROM outbox WHERE state = 'delivered' AND files_deleted_utc IS NULL ORDER BY msg_seq").all() as DbRow[]).map(fromDb);
  }

  markFilesDeleted(row: OutboxRow, deleted: { path: string; sha256: string }[]): void {
    this.db.transaction(() => {
      this.db.prepare('UPDATE outbox SET files_deleted_utc = ? WHERE envelope_id = ?').run(this.clock.now(), row.envelopeId);
      this.audit.append({
        actor: { type: 'system', id: 'uplink' },
        action: 'evidence.working_files_deleted',
        objectIds: [row.incidentId, row.envelopeId],
        sha256s: deleted.map((d) => d.sha256),
        justification: 'the force confirmed receipt with a signed complete receipt',
        detail: { files: deleted.length },
      });
    })();
  }
}
