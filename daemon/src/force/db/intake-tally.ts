import type { Db } from '../../db/db.js';
import { statement } from '../../db/statements.js';

/**
 * What the intake holds of a given set of envelopes, each figure counted in SQL (duplicates by GROUP BY):
 * the check that several receivers, one of them killed and restarted, stored each envelope exactly once.
 */
export interface IntakeTally {
  /** Envelope rows of the set. */
  envelopes: number;
  stored: number;
  /** Envelopes of the set not stored (yet, or ever) and why. */
  notStored: { envelopeId: string; state: string; reason: string | null }[];
  incidentRows: number;
  /** Envelopes with more than one incident row. */
  duplicateIncidents: number;
  /** `evidence.received` audit rows naming an envelope of the set. */
  receivedAuditRows: number;
  /** Envelopes named by more than one `evidence.received` audit row. */
  duplicateAudit: number;
  /** Chunk rows still held for the set (none once every envelope is stored). */
  chunksLeft: number;
  /** Rejection rows naming an envelope of the set. */
  rejections: number;
}

/** Envelope ids are passed as one JSON array, read with json_each. */
const IDS = 'SELECT value FROM json_each(?)';

export class IntakeTallyRepo {
  constructor(private readonly db: Db) {}

  /** How many envelopes of the set are stored (cheap enough to poll). */
  storedCount(envelopeIds: string[]): number {
    return statement(this.db, `SELECT COUNT(*) FROM envelopes WHERE state = 'stored' AND envelope_id IN (${IDS})`).pluck().get(JSON.stringify(envelopeIds)) as number;
  }

  tally(envelopeIds: string[]): IntakeTally {
    const ids = JSON.stringify(envelopeIds);
    const count = (sql: string): number => statement(this.db, sql).pluck().get(ids) as number;
    const notStored = statement(this.db, `SELECT envelope_id AS envelopeId, state, reason FROM envelopes WHERE state != 'stored' AND envelope_id IN (${IDS})`).all(ids) as IntakeTally['notStored'];
    const received = `SELECT json_extract(object_ids, '$[1]') AS envelope_id FROM audit WHERE action = 'evidence.received' AND json_extract(object_ids, '$[1]') IN (${IDS})`;
    return {
      envelopes: count(`SELECT COUNT(*) FROM envelopes WHERE envelope_id IN (${IDS})`),
      stored: this.storedCount(envelopeIds),
      notStored,
      incidentRows: count(`SELECT COUNT(*) FROM incidents WHERE envelope_id IN (${IDS})`),
      duplicateIncidents: count(`SELECT COUNT(*) FROM (SELECT envelope_id FROM incidents WHERE envelope_id IN (${IDS}) GROUP BY envelope_id HAVING COUNT(*) > 1)`),
      receivedAuditRows: count(`SELECT COUNT(*) FROM (${received})`),
      duplicateAudit: count(`SELECT COUNT(*) FROM (SELECT envelope_id FROM (${received}) GROUP BY envelope_id HAVING COUNT(*) > 1)`),
      chunksLeft: count(`SELECT COUNT(*) FROM chunks WHERE envelope_id IN (${IDS})`),
      rejections: count(`SELECT COUNT(*) FROM rejections WHERE envelope_id IN (${IDS})`),
    };
  }
}
