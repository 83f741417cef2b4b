import type { AuditHead } from '../audit/log.js';
import { SIG_CONTEXT, signWith, verifyWith, type KeyPairFile } from '../crypto/keys.js';
import type { SignedAuditHead } from '../protocol/schemas.js';
import { canonicalBytes } from '../util/canonical.js';

/** `{head, kid, sig}`: the box's audit chain head signed with its device key, published retained (the topic's schema type). */
export type { SignedAuditHead };

export function signAuditHead(head: AuditHead, device: KeyPairFile): SignedAuditHead {
  return { head, kid: device.kid, sig: signWith(device, SIG_CONTEXT.auditHead, canonicalBytes(head)) };
}

export function verifyAuditHead(signed: SignedAuditHead, devicePk: string): boolean {
  return verifyWith(devicePk, SIG_CONTEXT.auditHead, signed.sig, canonicalBytes(signed.head));
}
