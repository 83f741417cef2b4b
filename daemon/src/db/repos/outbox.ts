import type { Db } from '../db.js';
import { statement } from '../statements.js';

/** The outbox's rows (the sending, bounds and audit rows are in uplink/outbox.ts). */
export type OutboxState = 'pending' | 'delivered' | 'rejected';

/**
 * What an envelope carries: an incident's evidence, its master clips (the force's `upload_masters`), or
 * the box's deletion receipts (footage and evidence it erased, from its audit log).
 */
export type OutboxKind = 'evidence' | 'masters' | 'deletions';

/** A sealed envelope in the outbox. `manifest` is the envelope's manifest as JSON (uplink/outbox.ts types it). */
export interface OutboxEntry {
  envelopeId: string;
  incidentId: string;
  kind: OutboxKind;
  msgSeq: number;
  createdUtc: number;
  state: OutboxState;
  manifest: unknown;
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
  /** The force's reason, when it refused the envelope for good. */
  rejectedReason: string | null;
}

export type NewOutboxEntry = Pick<OutboxEntry, 'envelopeId' | 'incidentId' | 'kind' | 'msgSeq' | 'createdUtc' | 'manifest' | 'nChunks' | 'bytes' | 'bodySha256' | 'workingFiles'>;

/** How an incident's envelope is getting on. */
export type EnvelopeDelivery = Pick<OutboxEntry, 'envelopeId' | 'state' | 'attempts' | 'lastSentUtc' | 'deliveredUtc' | 'lastError' | 'bytes' | 'rejectedReason'>;

/** What `uplink status` lists of an envelope. */
export type OutboxListing = Pick<OutboxEntry, 'envelopeId' | 'incidentId' | 'kind' | 'state' | 'nChunks' | 'bytes' | 'attempts' | 'lastError'>;

/** The envelopes still waiting for the force's receipt, in sum. */
export interface PendingSummary {
  count: number;
  bytes: number;
  /** Creation time of the oldest pending envelope; null when none is pending. */
  oldestCreatedUtc: number | null;
}

interface Row {
  envelope_id: string;
  incident_id: string;
  kind: OutboxKind;
  msg_seq: number;
  created_utc: number;
  state: OutboxState;
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
  rejected_reason: string | null;
}

const COLUMNS =
  'envelope_id, incident_id, kind, msg_seq, created_utc, state, manifest, n_chunks, bytes, body_sha256, working_files, attempts, next_attempt_utc, last_sent_utc, resend, last_error, delivered_utc, files_deleted_utc, rejected_reason';

function fromRow(r: Row): OutboxEntry {
  return {
    envelopeId: r.envelope_id,
    incidentId: r.incident_id,
    kind: r.kind,
    msgSeq: r.msg_seq,
    createdUtc: r.created_utc,
    state: r.state,
    manifest: JSON.parse(r.manifest) as unknown,
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
    rejectedReason: r.rejected_reason,
  };
}

/**
 * SQL for the outbox table (the envelopes' ciphertext is in outbox_chunks). Methods take no transaction of
 * their own: uplink/outbox.ts composes them with their audit rows.
 */
export class OutboxRepo {
  constructor(private readonly db: Db) {}

  /** The highest envelope sequence number queued, 0 when the outbox was always empty. */
  maxMsgSeq(): number {
    return (this.db.prepare('SELECT MAX(msg_seq) AS m FROM outbox').get() as { m: number | null }).m ?? 0;
  }

  pendingSummary(): PendingSummary {
    const r = statement(this.db, "SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b, MIN(created_utc) AS oldest FROM outbox WHERE state = 'pending'").get() as {
      n: number;
      b: number;
      oldest: number | null;
    };
    return { count: r.n, bytes: r.b, oldestCreatedUtc: r.oldest };
  }

  /** Queue an envelope: pending, due at once. */
  insert(e: NewOutboxEntry): void {
    this.db
      .prepare(
        `INSERT INTO outbox (envelope_id, incident_id, kind, msg_seq, created_utc, state, manifest, n_chunks, bytes, body_sha256, working_files, next_attempt_utc)
         VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, 0)`,
      )
      .run(e.envelopeId, e.incidentId, e.kind, e.msgSeq, e.createdUtc, JSON.stringify(e.manifest), e.nChunks, e.bytes, e.bodySha256, JSON.stringify(e.workingFiles));
  }

  get(envelopeId: string): OutboxEntry | undefined {
    const r = statement(this.db, `SELECT ${COLUMNS} FROM outbox WHERE envelope_id = ?`).get(envelopeId) as Row | undefined;
    return r && fromRow(r);
  }

  byIncident(incidentId: string): OutboxEntry[] {
    return (this.db.prepare(`SELECT ${COLUMNS} FROM outbox WHERE incident_id = ? ORDER BY msg_seq`).all(incidentId) as Row[]).map(fromRow);
  }

  /** How an incident's latest evidence envelope is getting on (for the incident's page): null before it is sealed. */
  deliveryOf(incidentId: string): EnvelopeDelivery | null {
    const r = statement(
      this.db,
      "SELECT envelope_id, state, attempts, last_sent_utc, delivered_utc, last_error, bytes, rejected_reason FROM outbox WHERE incident_id = ? AND kind = 'evidence' ORDER BY msg_seq DESC LIMIT 1",
    ).get(incidentId) as Pick<Row, 'envelope_id' | 'state' | 'attempts' | 'last_sent_utc' | 'delivered_utc' | 'last_error' | 'bytes' | 'rejected_reason'> | undefined;
    return r
      ? { envelopeId: r.envelope_id, state: r.state, attempts: r.attempts, lastSentUtc: r.last_sent_utc, deliveredUtc: r.delivered_utc, lastError: r.last_error, bytes: r.bytes, rejectedReason: r.rejected_reason }
      : null;
  }

  /** Whether an incident has an evidence envelope queued or delivered (it is sealed), and its state; the newest first. */
  anyOfIncident(incidentId: string): Pick<OutboxEntry, 'envelopeId' | 'state'> | undefined {
    const r = this.db.prepare("SELECT envelope_id, state FROM outbox WHERE incident_id = ? AND kind = 'evidence' ORDER BY msg_seq DESC LIMIT 1").get(incidentId) as { envelope_id: string; state: OutboxState } | undefined;
    return r && { envelopeId: r.envelope_id, state: r.state };
  }

  /** The oldest pending envelope whose next attempt is due. */
  nextDue(now: number): OutboxEntry | undefined {
    const r = statement(this.db, `SELECT ${COLUMNS} FROM outbox WHERE state = 'pending' AND next_attempt_utc <= ? ORDER BY next_attempt_utc, msg_seq LIMIT 1`).get(now) as Row | undefined;
    return r && fromRow(r);
  }

  /** Earliest next attempt among pending envelopes. */
  nextWake(): number | undefined {
    const r = statement(this.db, "SELECT MIN(next_attempt_utc) AS t FROM outbox WHERE state = 'pending'").get() as { t: number | null };
    return r.t ?? undefined;
  }

  /** One more attempt handed to the broker; the receipt is awaited until `receiptDueUtc`. */
  markSent(envelopeId: string, now: number, receiptDueUtc: number): void {
    this.db
      .prepare('UPDATE outbox SET attempts = attempts + 1, last_sent_utc = ?, next_attempt_utc = ?, resend = NULL, last_error = NULL WHERE envelope_id = ?')
      .run(now, receiptDueUtc, envelopeId);
  }

  /** A failed attempt of a pending envelope: counted, its error kept, tried again at `nextAttemptUtc`. */
  scheduleRetry(envelopeId: string, nextAttemptUtc: number, error: string): void {
    this.db.prepare("UPDATE outbox SET attempts = attempts + 1, next_attempt_utc = ?, last_error = ? WHERE envelope_id = ? AND state = 'pending'").run(nextAttemptUtc, error, envelopeId);
  }

  /** Pending envelopes whose last attempt failed become due at `now`. */
  retryFailedNow(now: number): void {
    this.db.prepare("UPDATE outbox SET next_attempt_utc = ? WHERE state = 'pending' AND last_error IS NOT NULL AND next_attempt_utc > ?").run(now, now);
  }

  /** Send just these chunks of a pending envelope again, due at `now`. */
  requestResend(envelopeId: string, indices: readonly number[], now: number): void {
    this.db.prepare("UPDATE outbox SET resend = ?, next_attempt_utc = ? WHERE envelope_id = ? AND state = 'pending'").run(JSON.stringify(indices), now, envelopeId);
  }

  markDelivered(envelopeId: string, deliveredUtc: number, receiptJson: string): void {
    this.db.prepare("UPDATE outbox SET state = 'delivered', delivered_utc = ?, receipt = ?, resend = NULL WHERE envelope_id = ?").run(deliveredUtc, receiptJson, envelopeId);
  }

  /** The force refused the envelope for good: it is never sent again (its ciphertext goes with the caller's chunk delete). */
  markRejected(envelopeId: string, rejectedUtc: number, reason: string, receiptJson: string): void {
    this.db.prepare("UPDATE outbox SET state = 'rejected', rejected_utc = ?, rejected_reason = ?, receipt = ?, resend = NULL WHERE envelope_id = ? AND state = 'pending'").run(rejectedUtc, reason, receiptJson, envelopeId);
  }

  /** Delivered envelopes whose plaintext working files are not yet deleted. */
  awaitingFileDeletion(): OutboxEntry[] {
    return (this.db.prepare(`SELECT ${COLUMNS} FROM outbox WHERE state = 'delivered' AND files_deleted_utc IS NULL ORDER BY msg_seq`).all() as Row[]).map(fromRow);
  }

  markFilesDeleted(envelopeId: string, deletedUtc: number): void {
    this.db.prepare('UPDATE outbox SET files_deleted_utc = ? WHERE envelope_id = ?').run(deletedUtc, envelopeId);
  }

  /** The newest envelopes first. */
  recent(limit: number): OutboxListing[] {
    const rows = this.db.prepare('SELECT envelope_id, incident_id, kind, state, n_chunks, bytes, attempts, last_error FROM outbox ORDER BY msg_seq DESC LIMIT ?').all(limit) as Pick<
      Row,
      'envelope_id' | 'incident_id' | 'kind' | 'state' | 'n_chunks' | 'bytes' | 'attempts' | 'last_error'
    >[];
    return rows.map((r) => ({ envelopeId: r.envelope_id, incidentId: r.incident_id, kind: r.kind, state: r.state, nChunks: r.n_chunks, bytes: r.bytes, attempts: r.attempts, lastError: r.last_error }));
  }
}
