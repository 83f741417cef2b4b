import type { Db } from '../db.js';
import { statement } from '../statements.js';

/** The ciphertext of queued envelopes, chunk by chunk; dropped once the force confirms delivery. */
export class OutboxChunksRepo {
  constructor(private readonly db: Db) {}

  /** Store an envelope's chunks under their indices 0..n-1. */
  insertAll(envelopeId: string, chunks: readonly Buffer[]): void {
    const ins = this.db.prepare('INSERT INTO outbox_chunks (envelope_id, idx, data) VALUES (?, ?, ?)');
    chunks.forEach((c, i) => ins.run(envelopeId, i, c));
  }

  get(envelopeId: string, index: number): Buffer | undefined {
    const r = statement(this.db, 'SELECT data FROM outbox_chunks WHERE envelope_id = ? AND idx = ?').get(envelopeId, index) as { data: Buffer } | undefined;
    return r?.data;
  }

  deleteOf(envelopeId: string): void {
    this.db.prepare('DELETE FROM outbox_chunks WHERE envelope_id = ?').run(envelopeId);
  }
}
