import type { Db } from '../../db/db.js';
import { statement } from '../../db/statements.js';

export type EnvelopeState = 'receiving' | 'opening' | 'stored' | 'rejected';

/** An envelope in the force's intake: from its signed manifest to stored (or rejected). */
export interface Envelope {
  envelopeId: string;
  deviceId: string;
  incidentId: string;
  msgSeq: number;
  state: EnvelopeState;
  /** The envelope manifest as received (JSON). */
  manifest: string;
  nChunks: number;
  firstSeenUtc: number;
  lastActivityUtc: number;
}

/** An envelope not stored (yet, or ever), as `hindsight-force incidents` lists it. */
export interface UnstoredEnvelope {
  envelopeId: string;
  deviceId: string;
  state: EnvelopeState;
  reason: string | null;
}

interface Row {
  envelope_id: string;
  device_id: string;
  incident_id: string;
  msg_seq: number;
  state: EnvelopeState;
  manifest: string;
  n_chunks: number;
  first_seen_utc: number;
  last_activity_utc: number;
}

const COLUMNS = 'envelope_id, device_id, incident_id, msg_seq, state, manifest, n_chunks, first_seen_utc, last_activity_utc';
const fromRow = (r: Row): Envelope => ({
  envelopeId: r.envelope_id,
  deviceId: r.device_id,
  incidentId: r.incident_id,
  msgSeq: r.msg_seq,
  state: r.state,
  manifest: r.manifest,
  nChunks: r.n_chunks,
  firstSeenUtc: r.first_seen_utc,
  lastActivityUtc: r.last_activity_utc,
});

/**
 * Another receiver took the envelope over while this one was opening it (it gave no sign of life for the
 * sweep's quiet period): this attempt stores nothing; the other one does.
 */
export class OpeningTakenOver extends Error {
  constructor(readonly envelopeId: string) {
    super(`envelope ${envelopeId} was taken over by another receiver while this one opened it`);
    this.name = 'OpeningTakenOver';
  }
}

/** The `envelopes` table: the intake's state, shared by every receiver through the database. */
export class EnvelopesRepo {
  constructor(private readonly db: Db) {}

  get(envelopeId: string): Envelope | undefined {
    const r = statement(this.db, `SELECT ${COLUMNS} FROM envelopes WHERE envelope_id = ?`).get(envelopeId) as Row | undefined;
    return r && fromRow(r);
  }

  /** The envelope that used a device's `msg_seq`, if any (replay protection). */
  idBySeq(deviceId: string, msgSeq: number): string | undefined {
    return (statement(this.db, 'SELECT envelope_id FROM envelopes WHERE device_id = ? AND msg_seq = ?').get(deviceId, msgSeq) as { envelope_id: string } | undefined)?.envelope_id;
  }

  /** How many envelopes of a device are being reassembled or opened. */
  countInReassembly(deviceId: string): number {
    return (statement(this.db, "SELECT COUNT(*) AS n FROM envelopes WHERE device_id = ? AND state IN ('receiving', 'opening')").get(deviceId) as { n: number }).n;
  }

  /** A new envelope, `receiving` its chunks. */
  addReceiving(e: { envelopeId: string; deviceId: string; incidentId: string; msgSeq: number; manifest: string; nChunks: number; now: number }): void {
    statement(this.db, "INSERT INTO envelopes (envelope_id, device_id, incident_id, msg_seq, state, manifest, n_chunks, first_seen_utc, last_activity_utc) VALUES (?, ?, ?, ?, 'receiving', ?, ?, ?, ?)").run(
      e.envelopeId,
      e.deviceId,
      e.incidentId,
      e.msgSeq,
      e.manifest,
      e.nChunks,
      e.now,
      e.now,
    );
  }

  delete(envelopeId: string): void {
    statement(this.db, 'DELETE FROM envelopes WHERE envelope_id = ?').run(envelopeId);
  }

  touch(envelopeId: string, now: number): void {
    statement(this.db, 'UPDATE envelopes SET last_activity_utc = ? WHERE envelope_id = ?').run(now, envelopeId);
  }

  /**
   * Take a `receiving` envelope for opening, under `opener` (a token of this attempt: the fence that lets
   * only one attempt store it); false when another receiver (or an earlier message) took it.
   */
  claimForOpening(envelopeId: string, now: number, opener: string): boolean {
    return statement(this.db, "UPDATE envelopes SET state = 'opening', opener = ?, last_activity_utc = ? WHERE envelope_id = ? AND state = 'receiving'").run(opener, now, envelopeId).changes === 1;
  }

  /**
   * Take over an envelope left `opening` since `stuckSince` (its receiver stopped mid-way, or gave no sign of
   * life that long), under a new `opener`. One UPDATE decides: of receivers sweeping at once only one takes
   * it, and an opening whose receiver gave a sign of life since is left alone.
   */
  takeOverOpening(envelopeId: string, stuckSince: number, now: number, opener: string): boolean {
    return statement(this.db, "UPDATE envelopes SET opener = ?, last_activity_utc = ? WHERE envelope_id = ? AND state = 'opening' AND last_activity_utc <= ?").run(opener, now, envelopeId, stuckSince).changes === 1;
  }

  /**
   * The opener's sign of life, while it opens a large envelope: true while the envelope is still its to open
   * (no sweep took it over), and then no sweep takes it over for another quiet period.
   */
  stillOpening(envelopeId: string, opener: string, now: number): boolean {
    return statement(this.db, "UPDATE envelopes SET last_activity_utc = ? WHERE envelope_id = ? AND state = 'opening' AND opener = ?").run(now, envelopeId, opener).changes === 1;
  }

  /** Back to `receiving`, active at `now`, if `opener` still holds it (false otherwise: it is another's now). */
  setReceiving(envelopeId: string, now: number, opener: string): boolean {
    return statement(this.db, "UPDATE envelopes SET state = 'receiving', opener = NULL, last_activity_utc = ? WHERE envelope_id = ? AND state = 'opening' AND opener = ?").run(now, envelopeId, opener).changes === 1;
  }

  /**
   * Stored, by the attempt `opener` that still holds it; inside the transaction that records what it
   * stored, so when another receiver took the envelope over meanwhile, nothing of this attempt commits.
   */
  setStored(envelopeId: string, now: number, opener: string): void {
    const changed = statement(this.db, "UPDATE envelopes SET state = 'stored', stored_utc = ?, opener = NULL WHERE envelope_id = ? AND state = 'opening' AND opener = ?").run(now, envelopeId, opener).changes;
    if (changed !== 1) throw new OpeningTakenOver(envelopeId);
  }

  /**
   * Rejected for good, if it is still `receiving` (`from`), or still being opened by the attempt `from.opener`;
   * false when another receiver changed it since (claimed it, took it over, stored it): it is then left as it is.
   */
  setRejected(envelopeId: string, reason: string, from: 'receiving' | { opener: string }): boolean {
    if (from === 'receiving') return statement(this.db, "UPDATE envelopes SET state = 'rejected', reason = ? WHERE envelope_id = ? AND state = 'receiving'").run(reason, envelopeId).changes === 1;
    return statement(this.db, "UPDATE envelopes SET state = 'rejected', reason = ?, opener = NULL WHERE envelope_id = ? AND state = 'opening' AND opener = ?").run(reason, envelopeId, from.opener).changes === 1;
  }

  /** Envelopes `receiving` and quiet since `quietSince`, or left `opening` since `stuckSince`. */
  quiet(quietSince: number, stuckSince: number): Envelope[] {
    const rows = statement(this.db, `SELECT ${COLUMNS} FROM envelopes WHERE (state = 'receiving' AND last_activity_utc <= ?) OR (state = 'opening' AND last_activity_utc <= ?)`).all(quietSince, stuckSince) as Row[];
    return rows.map(fromRow);
  }

  notStored(): UnstoredEnvelope[] {
    const rows = statement(this.db, "SELECT envelope_id, device_id, state, reason FROM envelopes WHERE state != 'stored'").all() as { envelope_id: string; device_id: string; state: EnvelopeState; reason: string | null }[];
    return rows.map((r) => ({ envelopeId: r.envelope_id, deviceId: r.device_id, state: r.state, reason: r.reason }));
  }
}
