import type { AuditHead, AuditLog } from '../audit/log.js';
import { trustedSigner, type SignedKeySet } from '../crypto/keyset.js';
import { SIG_CONTEXT, signWith, verifyWith, type KeyPairFile } from '../crypto/keys.js';
import type { Db } from '../db/db.js';
import { MetaRepo } from '../db/repos/meta.js';
import { readEpoch } from '../audit/epoch.js';
import { AuditAckPayload, MAX_AUDIT_DIGESTS, parsePayload, type AuditAckMessage, type SignedAuditHead } from '../protocol/schemas.js';
import { canonicalBytes } from '../util/canonical.js';
import { errorMessage } from '../util/errors.js';

/** `{head, kid, sig}`: the box's audit chain head signed with its device key, published retained (the topic's schema type). */
export type { SignedAuditHead };

const ACKED = 'audit.acked';
/** The force's signed acknowledgement itself: sent back with each head (a restored force or box checks from it). */
const ACKED_SIGNED = 'audit.acked_signed';

export function signAuditHead(head: SignedAuditHead['head'], device: KeyPairFile): SignedAuditHead {
  return { head, kid: device.kid, sig: signWith(device, SIG_CONTEXT.auditHead, canonicalBytes(head)) };
}

export function verifyAuditHead(signed: SignedAuditHead, devicePk: string): boolean {
  return verifyWith(devicePk, SIG_CONTEXT.auditHead, signed.sig, canonicalBytes(signed.head));
}

/**
 * The box's side of the audit heads the force checks: each head carries the content digests of the rows
 * since the head the force last acknowledged (at most MAX_AUDIT_DIGESTS; the rest follow once that head
 * is acknowledged), so the force can check the new head extends the old one. A signed acknowledgement
 * (a `receipt` key of the key set) is kept; rows it covers may then be pruned once old enough.
 */
export class AuditHeads {
  private readonly meta: MetaRepo;

  constructor(
    private readonly d: { db: Db; audit: AuditLog; deviceId: string; keyset: () => SignedKeySet | undefined; now: () => number },
  ) {
    this.meta = new MetaRepo(d.db);
  }

  /** The head the force last acknowledged, or undefined. */
  acked(): { count: number; head_hash: string } | undefined {
    const text = this.meta.get(ACKED);
    return text ? (JSON.parse(text) as { count: number; head_hash: string }) : undefined;
  }

  /** The next head to send: from the acknowledged one with the digests after it, or a baseline. */
  next(): { head: SignedAuditHead['head']; more: boolean } {
    const now: AuditHead = this.d.audit.head();
    const acked = this.acked();
    const e = readEpoch(this.d.db);
    const epoch = e && { epoch: { n: e.n, id: e.id, base_count: e.base.count } };
    const baseline = { head: { count: now.count, head_hash: now.head_hash, ts: now.ts, ...epoch }, more: false };
    if (!acked || acked.count > now.count) return baseline;
    const to = Math.min(now.count, acked.count + MAX_AUDIT_DIGESTS);
    const digests = this.d.audit.digestsBetween(acked.count, to);
    const hash = this.d.audit.hashAt(to);
    // rows written before digests existed, or pruned past the acknowledged head: a baseline again
    if (!digests || !hash) return baseline;
    const signed = this.meta.get(ACKED_SIGNED);
    const fromAck = signed ? (JSON.parse(signed) as AuditAckMessage) : undefined;
    const proof = fromAck && fromAck.ack.count === acked.count && fromAck.ack.head_hash === acked.head_hash ? { from_ack: fromAck } : {};
    return { head: { count: to, head_hash: hash, ts: now.ts, from: acked, digests, ...proof, ...epoch }, more: to < now.count };
  }

  /**
   * A message on the receipt topic that is an audit acknowledgement: checked and kept. Returns undefined
   * when the payload is not one (an evidence receipt), else what became of it.
   */
  handleAck(payload: Buffer): { ok: true; count: number } | { ok: false; reason: string } | undefined {
    let text: string;
    try {
      text = payload.toString('utf8');
      if (!text.startsWith('{"ack"')) return undefined;
    } catch {
      return undefined;
    }
    try {
      const { ack, sig } = parsePayload(AuditAckPayload, payload, 4096);
      const signer = this.d.keyset() && trustedSigner(this.d.keyset()!.keyset, ack.kid, 'receipt', this.d.now());
      if (ack.device_id !== this.d.deviceId) return { ok: false, reason: `acknowledgement for box ${ack.device_id}` };
      if (!signer || !verifyWith(signer.pk, SIG_CONTEXT.auditAck, sig, canonicalBytes(ack))) return { ok: false, reason: 'acknowledgement not signed by a receipt key of the installed key set' };
      if (this.d.audit.hashAt(ack.count) !== ack.head_hash) return { ok: false, reason: `acknowledged head ${ack.count} is not this box's chain` };
      const previous = this.acked();
      if (previous && previous.count > ack.count) return { ok: false, reason: `acknowledgement of ${ack.count} rows is older than the kept one (${previous.count})` };
      this.meta.set(ACKED, JSON.stringify({ count: ack.count, head_hash: ack.head_hash }));
      this.meta.set(ACKED_SIGNED, JSON.stringify({ ack, sig }));
      return { ok: true, count: ack.count };
    } catch (err) {
      return { ok: false, reason: errorMessage(err) };
    }
  }
}
