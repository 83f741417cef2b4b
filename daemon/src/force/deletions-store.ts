import type { SignedDeletionsManifest } from '../protocol/schemas.js';
import { ChunksRepo } from './db/chunks.js';
import { DeletionReceiptsRepo } from './db/deletion-receipts.js';
import { EnvelopesRepo } from './db/envelopes.js';
import type { StoreContext, StoredEnvelope } from './evidence-store.js';

/**
 * Keep a box's verified deletion report: each audit row once (a report that arrives twice adds nothing),
 * the envelope `stored`, and the force's audit row, in one transaction. Returns how many rows were new.
 */
export function storeDeletionReport(c: StoreContext, e: StoredEnvelope, signed: SignedDeletionsManifest): number {
  const rows = signed.manifest.rows;
  return c.db.transaction(() => {
    const added = new DeletionReceiptsRepo(c.db).addAll(e.deviceId, e.envelopeId, rows, c.now);
    new EnvelopesRepo(c.db).setStored(e.envelopeId, c.now, e.opener);
    new ChunksRepo(c.db).deleteAll(e.envelopeId);
    c.audit.append({
      actor: { type: 'device', id: e.deviceId },
      action: 'box.deletions_received',
      objectIds: [e.deviceId, e.envelopeId],
      detail: { rows: rows.length, new: added, from_seq: rows[0]!.seq, to_seq: rows.at(-1)!.seq, actions: [...new Set(rows.map((r) => r.action))] },
    });
    return added;
  })();
}
