import type { Db } from '../db.js';

/** A receipt from the force, kept as received once its signature checked out (uplink/receipts.ts). */
export interface NewReceipt {
  envelopeId: string;
  receivedUtc: number;
  status: string;
  /** Chunk indices the force reported missing. */
  missing: readonly number[];
  signerKid: string;
  /** The receipt message as received. */
  raw: string;
}

export class ReceiptsRepo {
  constructor(private readonly db: Db) {}

  insert(r: NewReceipt): void {
    this.db
      .prepare('INSERT INTO receipts (envelope_id, received_utc, status, missing, signer_kid, raw) VALUES (?, ?, ?, ?, ?, ?)')
      .run(r.envelopeId, r.receivedUtc, r.status, JSON.stringify(r.missing), r.signerKid, r.raw);
  }
}
