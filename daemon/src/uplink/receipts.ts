import { existsSync, readFileSync, rmSync } from 'node:fs';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/log.js';
import { sha256Hex } from '../crypto/encoding.js';
import { trustedSigner } from '../crypto/keyset.js';
import { SIG_CONTEXT, verifyWith } from '../crypto/keys.js';
import { parsePayload, ReceiptPayload } from '../protocol/schemas.js';
import type { Db } from '../db/db.js';
import { ReceiptsRepo } from '../db/repos/receipts.js';
import { canonicalBytes } from '../util/canonical.js';
import type { Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import type { KeySetStore } from './enrollment.js';
import type { DeliveredInfo, Outbox } from './outbox.js';

/** `rejected`: the receipt itself was refused (not validly signed); `dead`: a valid receipt refusing the envelope for good. */
export type ReceiptOutcome = 'delivered' | 'resend' | 'duplicate' | 'unknown_envelope' | 'rejected' | 'dead';

/**
 * Receipts from the force. Only a receipt signed by a `receipt` key of the installed (root-signed) key
 * set counts; anything else is ignored and audited as denied. `complete` with the right body hash marks
 * the envelope delivered; `missing` asks for just those chunks again; `rejected` ends the envelope (the
 * force refused it for good, with its reason).
 */
export class ReceiptHandler {
  private readonly receipts: ReceiptsRepo;

  constructor(
    db: Db,
    private readonly outbox: Outbox,
    private readonly keysets: KeySetStore,
    private readonly deviceId: string,
    private readonly clock: Clock,
    private readonly audit: AuditLog,
    private readonly log: Logger,
  ) {
    this.receipts = new ReceiptsRepo(db);
  }

  handle(payload: Buffer): { outcome: ReceiptOutcome; delivered?: DeliveredInfo; reason?: string } {
    const now = this.clock.now();
    let reason: string | undefined;
    let parsed: ReturnType<typeof parsePayload<typeof ReceiptPayload>> | undefined;
    try {
      parsed = parsePayload(ReceiptPayload, payload, 512 * 1024);
    } catch (err) {
      reason = errorMessage(err);
    }
    const r = parsed?.receipt;
    if (parsed && r) {
      const keyset = this.keysets.current();
      const signer = keyset && trustedSigner(keyset.keyset, r.kid, 'receipt', now);
      if (r.device_id !== this.deviceId) reason = `receipt is for device ${r.device_id}`;
      else if (!signer) reason = `receipt signer ${r.kid} is not a receipt key of the installed force key set`;
      else if (!verifyWith(signer.pk, SIG_CONTEXT.receipt, parsed.sig, canonicalBytes(r))) reason = 'receipt signature does not verify';
    }
    if (reason || !parsed || !r) {
      this.audit.append({
        actor: { type: 'force', id: r?.kid ?? 'unknown' },
        action: 'receipt.rejected',
        objectIds: r ? [r.envelope] : [],
        sha256s: [sha256Hex(payload)],
        result: 'denied',
        detail: { reason: reason ?? 'invalid' },
      });
      this.log.warn({ reason, envelope: r?.envelope }, 'ignored a receipt that is not validly signed by the force');
      return { outcome: 'rejected', reason: reason ?? 'invalid' };
    }
    const row = this.outbox.get(r.envelope);
    if (!row) return { outcome: 'unknown_envelope' };
    if (row.state === 'delivered') return { outcome: 'duplicate' };
    this.receipts.insert({ envelopeId: r.envelope, receivedUtc: now, status: r.status, missing: r.missing, signerKid: r.kid, raw: payload.toString('utf8') });
    if (r.status === 'complete') {
      if (r.body_sha256 !== row.bodySha256) {
        this.log.warn({ envelope: r.envelope }, 'complete receipt names another body hash; ignored');
        return { outcome: 'rejected', reason: 'body hash mismatch' };
      }
      const delivered = this.outbox.markDelivered(r.envelope, r.kid, payload.toString('utf8'));
      this.log.info({ envelope: r.envelope, incident: row.incidentId }, 'force confirmed receipt: delivered');
      return delivered ? { outcome: 'delivered', delivered } : { outcome: 'duplicate' };
    }
    if (r.status === 'rejected') {
      if (r.body_sha256 && r.body_sha256 !== row.bodySha256) {
        this.log.warn({ envelope: r.envelope }, 'rejected receipt names another body hash; ignored');
        return { outcome: 'rejected', reason: 'body hash mismatch' };
      }
      const reason = r.reason ?? 'refused by the force (no reason given)';
      const rejected = this.outbox.markRejected(r.envelope, reason, r.kid, payload.toString('utf8'));
      this.log.warn({ envelope: r.envelope, incident: row.incidentId, reason }, 'the force refused the envelope for good; it is not sent again');
      return rejected ? { outcome: 'dead', reason } : { outcome: 'duplicate' };
    }
    const wanted = [...new Set(r.missing)].filter((i) => i < row.nChunks).sort((a, b) => a - b);
    this.outbox.requestResend(r.envelope, wanted.length ? wanted : Array.from({ length: row.nChunks }, (_, i) => i), now);
    this.log.info({ envelope: r.envelope, missing: wanted.length }, 'force reports missing chunks; resending them');
    return { outcome: 'resend' };
  }
}

/**
 * Delete the plaintext working files of delivered envelopes (audited with their hashes). Runs after each
 * delivery and at start-up, so a crash between delivery and deletion is finished later.
 */
export function deleteDeliveredWorkingFiles(outbox: Outbox, log: Logger): number {
  let n = 0;
  for (const row of outbox.awaitingFileDeletion()) {
    const deleted: { path: string; sha256: string }[] = [];
    for (const file of row.workingFiles) {
      if (!existsSync(file)) continue;
      try {
        const sha256 = sha256Hex(readFileSync(file));
        rmSync(file, { force: true });
        deleted.push({ path: file, sha256 });
      } catch (err) {
        log.error({ err: errorMessage(err), envelope: row.envelopeId }, 'cannot delete a working file; will retry');
        return n;
      }
    }
    outbox.markFilesDeleted(row, deleted);
    log.info({ envelope: row.envelopeId, incident: row.incidentId, files: deleted.length }, 'plaintext working files deleted after delivery');
    n += 1;
  }
  return n;
}
