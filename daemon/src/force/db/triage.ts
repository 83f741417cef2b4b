import type { Db } from '../../db/db.js';
import { statement } from '../../db/statements.js';

export type TriageState = 'untriaged' | 'accepted' | 'rejected' | 'expired';

/** An incident's place in triage: whether (and by whom, for which crime) its faces may be searched. */
export interface TriageRow {
  envelopeId: string;
  incidentId: string;
  deviceId: string;
  state: TriageState;
  receivedUtc: number;
  decidedUtc: number | null;
  decidedBy: string | null;
  crimeRef: string | null;
  necessity: string | null;
  /** The subjects an officer chose to search (accepted only). */
  subjects: string[];
  /** When its evidence was deleted (rejected or expired). */
  deletedUtc: number | null;
}

interface Row {
  envelope_id: string;
  incident_id: string;
  device_id: string;
  state: TriageState;
  received_utc: number;
  decided_utc: number | null;
  decided_by: string | null;
  crime_ref: string | null;
  necessity: string | null;
  subjects: string | null;
  deleted_utc: number | null;
}

const COLUMNS = 'envelope_id, incident_id, device_id, state, received_utc, decided_utc, decided_by, crime_ref, necessity, subjects, deleted_utc';

function fromRow(r: Row): TriageRow {
  return {
    envelopeId: r.envelope_id,
    incidentId: r.incident_id,
    deviceId: r.device_id,
    state: r.state,
    receivedUtc: r.received_utc,
    decidedUtc: r.decided_utc,
    decidedBy: r.decided_by,
    crimeRef: r.crime_ref,
    necessity: r.necessity,
    subjects: r.subjects ? (JSON.parse(r.subjects) as string[]) : [],
    deletedUtc: r.deleted_utc,
  };
}

/** The force's `triage` table: one row per stored incident (envelope), from its arrival. */
export class TriageRepo {
  constructor(private readonly db: Db) {}

  /** A newly stored incident joins the queue, untriaged. */
  add(envelopeId: string, incidentId: string, deviceId: string, receivedUtc: number): void {
    statement(this.db, "INSERT INTO triage (envelope_id, incident_id, device_id, state, received_utc) VALUES (?, ?, ?, 'untriaged', ?)").run(envelopeId, incidentId, deviceId, receivedUtc);
  }

  get(envelopeId: string): TriageRow | undefined {
    const r = statement(this.db, `SELECT ${COLUMNS} FROM triage WHERE envelope_id = ?`).get(envelopeId) as Row | undefined;
    return r && fromRow(r);
  }

  /** The rows of an incident id (one per envelope; normally one). */
  ofIncident(incidentId: string): TriageRow[] {
    return (statement(this.db, `SELECT ${COLUMNS} FROM triage WHERE incident_id = ? ORDER BY received_utc`).all(incidentId) as Row[]).map(fromRow);
  }

  list(states: readonly TriageState[]): TriageRow[] {
    const marks = states.map(() => '?').join(', ');
    return (this.db.prepare(`SELECT ${COLUMNS} FROM triage WHERE state IN (${marks}) ORDER BY received_utc`).all(...states) as Row[]).map(fromRow);
  }

  /** Untriaged incidents received before `beforeUtc` (their time is up). */
  untriagedBefore(beforeUtc: number): TriageRow[] {
    return (statement(this.db, `SELECT ${COLUMNS} FROM triage WHERE state = 'untriaged' AND received_utc < ? ORDER BY received_utc`).all(beforeUtc) as Row[]).map(fromRow);
  }

  /** False when it was no longer untriaged (another officer decided first). */
  accept(envelopeId: string, d: { nowUtc: number; by: string; crimeRef: string; necessity: string; subjects: string[] }): boolean {
    return statement(this.db, "UPDATE triage SET state = 'accepted', decided_utc = ?, decided_by = ?, crime_ref = ?, necessity = ?, subjects = ? WHERE envelope_id = ? AND state = 'untriaged'").run(
      d.nowUtc,
      d.by,
      d.crimeRef,
      d.necessity,
      JSON.stringify(d.subjects),
      envelopeId,
    ).changes === 1;
  }

  /** Rejected by an officer, or expired (untriaged in time, or past retention): its evidence is deleted in the same transaction. */
  close(envelopeId: string, state: 'rejected' | 'expired', from: 'untriaged' | 'accepted', d: { nowUtc: number; by: string; reason: string }): boolean {
    // an accepted incident keeps its officer and necessity on record; an untriaged one records why it went
    const sql =
      from === 'untriaged'
        ? "UPDATE triage SET state = ?, decided_utc = ?, decided_by = ?, necessity = ?, deleted_utc = ? WHERE envelope_id = ? AND state = 'untriaged'"
        : "UPDATE triage SET state = ?, deleted_utc = ? WHERE envelope_id = ? AND state = 'accepted'";
    const r = from === 'untriaged' ? statement(this.db, sql).run(state, d.nowUtc, d.by, d.reason, d.nowUtc, envelopeId) : statement(this.db, sql).run(state, d.nowUtc, envelopeId);
    return r.changes === 1;
  }
}
