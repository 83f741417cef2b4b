import type { Db } from '../../db/db.js';
import { statement } from '../../db/statements.js';

/** The `chunks` table: the ciphertext chunks of envelopes being reassembled. */
export class ChunksRepo {
  constructor(private readonly db: Db) {}

  /**
   * Keep a chunk while its envelope is `receiving`; a chunk already here is left as it is (QoS 1 duplicates
   * and resends). One statement: a chunk that reaches one receiver as another stores or rejects the
   * envelope is not left behind. False when it was not kept.
   */
  add(envelopeId: string, index: number, data: Buffer): boolean {
    const sql = "INSERT OR IGNORE INTO chunks (envelope_id, idx, data) SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM envelopes WHERE envelope_id = ? AND state = 'receiving')";
    return statement(this.db, sql).run(envelopeId, index, data, envelopeId).changes === 1;
  }

  count(envelopeId: string): number {
    return (statement(this.db, 'SELECT COUNT(*) AS n FROM chunks WHERE envelope_id = ?').get(envelopeId) as { n: number }).n;
  }

  /** The indexes held for an envelope. */
  indexes(envelopeId: string): number[] {
    return (statement(this.db, 'SELECT idx FROM chunks WHERE envelope_id = ?').all(envelopeId) as { idx: number }[]).map((r) => r.idx);
  }

  /** The chunks of an envelope in order. */
  data(envelopeId: string): Buffer[] {
    return (statement(this.db, 'SELECT data FROM chunks WHERE envelope_id = ? ORDER BY idx').all(envelopeId) as { data: Buffer }[]).map((r) => r.data);
  }

  deleteAll(envelopeId: string): void {
    statement(this.db, 'DELETE FROM chunks WHERE envelope_id = ?').run(envelopeId);
  }
}
