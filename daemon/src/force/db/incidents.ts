import type { Db } from '../../db/db.js';
import { statement } from '../../db/statements.js';

/** A stored incident (one verified envelope) to record. */
export interface NewIncident {
  envelopeId: string;
  incidentId: string;
  deviceId: string;
  store: string;
  windowStart: number;
  windowEnd: number;
  receivedUtc: number;
  /** Its folder in the evidence store. */
  dir: string;
  /** The signed package manifest (JSON). */
  manifest: string;
  /** What was verified on receipt (JSON). */
  verified: string;
  /** The device key that signed the envelope and the package. */
  signerKid: string;
}

/**
 * A stored incident as listed, with its subject and file counts. The keys are the columns' names, as
 * `hindsight-force incidents --json` prints them.
 */
export interface IncidentRow {
  received_utc: number;
  device_id: string;
  store: string;
  incident_id: string;
  envelope_id: string;
  verified: string;
  dir: string;
  /** The device key that signed this evidence (null for evidence stored before keys were recorded). */
  signer_kid: string | null;
  subjects: number;
  files: number;
}

/** The force's `incidents` table: the verified evidence it stored, one row per envelope. */
export class IncidentsRepo {
  constructor(private readonly db: Db) {}

  add(i: NewIncident): void {
    statement(this.db, 'INSERT INTO incidents (envelope_id, incident_id, device_id, store, window_start, window_end, received_utc, dir, manifest, verified, signer_kid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run(
      i.envelopeId,
      i.incidentId,
      i.deviceId,
      i.store,
      i.windowStart,
      i.windowEnd,
      i.receivedUtc,
      i.dir,
      i.manifest,
      i.verified,
      i.signerKid,
    );
  }

  /** Every stored incident, oldest received first. */
  list(): IncidentRow[] {
    return statement(
      this.db,
      `SELECT i.received_utc, i.device_id, i.store, i.incident_id, i.envelope_id, i.verified, i.dir, i.signer_kid,
         (SELECT COUNT(*) FROM subjects s WHERE s.envelope_id = i.envelope_id) AS subjects,
         (SELECT COUNT(*) FROM files f WHERE f.envelope_id = i.envelope_id) AS files
       FROM incidents i ORDER BY i.received_utc`,
    ).all() as IncidentRow[];
  }

  /** The stored incident of an envelope (its folder and manifest), if it is still kept. */
  get(envelopeId: string): Pick<IncidentRow, 'envelope_id' | 'incident_id' | 'device_id' | 'store' | 'dir' | 'received_utc'> & { window_start: number; window_end: number } | undefined {
    return statement(this.db, 'SELECT envelope_id, incident_id, device_id, store, dir, received_utc, window_start, window_end FROM incidents WHERE envelope_id = ?').get(envelopeId) as
      | (Pick<IncidentRow, 'envelope_id' | 'incident_id' | 'device_id' | 'store' | 'dir' | 'received_utc'> & { window_start: number; window_end: number })
      | undefined;
  }

  delete(envelopeId: string): void {
    statement(this.db, 'DELETE FROM incidents WHERE envelope_id = ?').run(envelopeId);
  }
}
