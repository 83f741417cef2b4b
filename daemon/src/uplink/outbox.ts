import type { AuditLog } from '../audit/log.js';
import type { EnvelopeManifest, SealedEnvelope } from '../crypto/envelope.js';
import type { Db } from '../db/db.js';
import { MetaRepo } from '../db/repos/meta.js';
import { OutboxChunksRepo } from '../db/repos/outbox-chunks.js';
import { OutboxRepo, type OutboxEntry, type OutboxKind } from '../db/repos/outbox.js';
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

/** An outbox entry with its manifest typed: the manifest was stored by `enqueue` from a sealed envelope. */
export interface OutboxRow extends Omit<OutboxEntry, 'manifest'> {
  manifest: EnvelopeManifest;
}

const typed = (e: OutboxEntry): OutboxRow => e as OutboxRow;

export interface DeliveredInfo {
  envelopeId: string;
  incidentId: string;
  kind: OutboxKind;
  deliveredUtc: number;
  receiptSignerKid: string;
}

/** Runs inside the transaction that marks an envelope delivered (e.g. the incident moves to `delivered`). */
export type DeliveryHook = (info: DeliveredInfo) => void;

export interface RejectedInfo {
  envelopeId: string;
  incidentId: string;
  kind: OutboxKind;
  /** The force's reason, as its signed receipt gives it. */
  reason: string;
}

/** Runs inside the transaction that marks an envelope rejected by the force (the incident fails with the reason). */
export type RejectionHook = (info: RejectedInfo) => void;

export interface OutboxStats {
  pending: number;
  bytes: number;
  oldest_age_s: number | null;
}

const MSG_SEQ_KEY = 'uplink.msg_seq';

export class Outbox {
  private readonly hooks = new Set<DeliveryHook>();
  private readonly rejectionHooks = new Set<RejectionHook>();
  private readonly entries: OutboxRepo;
  private readonly chunks: OutboxChunksRepo;
  private readonly meta: MetaRepo;

  constructor(
    private readonly db: Db,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly bounds: OutboxBounds,
  ) {
    this.entries = new OutboxRepo(db);
    this.chunks = new OutboxChunksRepo(db);
    this.meta = new MetaRepo(db);
  }

  /**
   * Reserve the next envelope sequence number (it goes into the signed header before sealing).
   * Its own small transaction: a sealing that fails leaves a gap, which the force tolerates.
   */
  reserveMsgSeq(): number {
    return this.db
      .transaction(() => {
        const reserved = this.meta.get(MSG_SEQ_KEY);
        const next = Math.max(Number(reserved ?? 0), this.entries.maxMsgSeq()) + 1;
        this.meta.set(MSG_SEQ_KEY, String(next));
        return next;
      })
      .immediate();
  }

  stats(): OutboxStats {
    const r = this.entries.pendingSummary();
    return { pending: r.count, bytes: r.bytes, oldest_age_s: r.oldestCreatedUtc === null ? null : Math.max(0, (this.clock.now() - r.oldestCreatedUtc) / 1000) };
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
  enqueue(sealed: SealedEnvelope, options: { workingFiles?: string[]; kind?: OutboxKind } = {}): void {
    const m = sealed.manifest;
    const bytes = sealed.chunks.reduce((n, c) => n + c.length, 0);
    const write = (): void => {
      this.checkCapacity(bytes);
      this.entries.insert({
        envelopeId: m.header.envelope_id,
        incidentId: m.header.incident_id,
        kind: options.kind ?? 'evidence',
        msgSeq: m.header.msg_seq,
        createdUtc: this.clock.now(),
        manifest: m,
        nChunks: m.n_chunks,
        bytes,
        bodySha256: m.body_sha256,
        workingFiles: options.workingFiles ?? [],
      });
      this.chunks.insertAll(m.header.envelope_id, sealed.chunks);
      this.audit.append({
        actor: { type: 'system', id: 'uplink' },
        action: 'evidence.sealed',
        objectIds: [m.header.incident_id, m.header.envelope_id],
        sha256s: [m.body_sha256],
        recipient: m.header.recipients.join(','),
        detail: { msg_seq: m.header.msg_seq, bytes, n_chunks: m.n_chunks, plaintext_bytes: m.header.pt_len, ...(options.kind && options.kind !== 'evidence' ? { kind: options.kind } : {}) },
      });
    };
    if (this.db.inTransaction) write();
    else this.db.transaction(write).immediate();
  }

  get(envelopeId: string): OutboxRow | undefined {
    const e = this.entries.get(envelopeId);
    return e && typed(e);
  }

  byIncident(incidentId: string): OutboxRow[] {
    return this.entries.byIncident(incidentId).map(typed);
  }

  /** The oldest pending envelope whose next attempt is due. */
  nextDue(now: number): OutboxRow | undefined {
    const e = this.entries.nextDue(now);
    return e && typed(e);
  }

  /** Earliest next attempt among pending envelopes (for the sender's timer). */
  nextWake(): number | undefined {
    return this.entries.nextWake();
  }

  chunk(envelopeId: string, index: number): Buffer | undefined {
    return this.chunks.get(envelopeId, index);
  }

  /** Everything was handed to the broker; wait for the receipt until `receiptDueUtc`. */
  markSent(envelopeId: string, now: number, receiptDueUtc: number, sentIndices: number): void {
    this.db.transaction(() => {
      const row = this.get(envelopeId);
      if (!row || row.state !== 'pending') return;
      this.entries.markSent(envelopeId, now, receiptDueUtc);
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
    this.entries.scheduleRetry(envelopeId, nextAttemptUtc, error.slice(0, 500));
  }

  /** After a reconnect, envelopes whose last attempt failed are due at once (not after their backoff). */
  retryFailedNow(now: number): void {
    this.entries.retryFailedNow(now);
  }

  /** A `missing` receipt: resend just these chunks, now. */
  requestResend(envelopeId: string, indices: number[], now: number): void {
    this.entries.requestResend(envelopeId, indices, now);
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
        this.entries.markDelivered(envelopeId, now, receiptJson);
        this.chunks.deleteOf(envelopeId);
        this.audit.append({
          actor: { type: 'system', id: 'uplink' },
          action: 'evidence.delivered',
          objectIds: [row.incidentId, envelopeId],
          sha256s: [row.bodySha256],
          recipient: receiptSignerKid,
          detail: { attempts: row.attempts, msg_seq: row.msgSeq },
        });
        const info: DeliveredInfo = { envelopeId, incidentId: row.incidentId, kind: row.kind, deliveredUtc: now, receiptSignerKid };
        for (const hook of this.hooks) hook(info);
        return info;
      })
      .immediate();
  }

  onRejected(hook: RejectionHook): () => void {
    this.rejectionHooks.add(hook);
    return () => this.rejectionHooks.delete(hook);
  }

  /**
   * A verified `rejected` receipt: the force refused the envelope for good. In one transaction mark it
   * rejected (never sent again), drop its ciphertext, audit the force's reason and run the rejection
   * hooks (the incident fails with that reason). Returns undefined if it was not pending.
   */
  markRejected(envelopeId: string, reason: string, receiptSignerKid: string, receiptJson: string): RejectedInfo | undefined {
    return this.db
      .transaction((): RejectedInfo | undefined => {
        const row = this.get(envelopeId);
        if (!row || row.state !== 'pending') return undefined;
        this.entries.markRejected(envelopeId, this.clock.now(), reason, receiptJson);
        this.chunks.deleteOf(envelopeId);
        this.audit.append({
          actor: { type: 'force', id: receiptSignerKid },
          action: 'evidence.rejected_by_force',
          objectIds: [row.incidentId, envelopeId],
          sha256s: [row.bodySha256],
          result: 'error',
          detail: { reason, kind: row.kind, attempts: row.attempts, msg_seq: row.msgSeq },
        });
        const info: RejectedInfo = { envelopeId, incidentId: row.incidentId, kind: row.kind, reason };
        for (const hook of this.rejectionHooks) hook(info);
        return info;
      })
      .immediate();
  }

  /** Delivered envelopes whose plaintext working files are not yet deleted (also after a crash). */
  awaitingFileDeletion(): OutboxRow[] {
    return this.entries.awaitingFileDeletion().map(typed);
  }

  markFilesDeleted(row: OutboxRow, deleted: { path: string; sha256: string }[]): void {
    this.db.transaction(() => {
      this.entries.markFilesDeleted(row.envelopeId, this.clock.now());
      // master clips and deletion reports leave no plaintext behind: nothing was deleted, nothing to record
      // (a row here would itself be a deletion to report, for ever)
      if (row.kind !== 'evidence' && row.workingFiles.length === 0) return;
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
