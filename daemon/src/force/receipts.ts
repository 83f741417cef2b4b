import { SIG_CONTEXT, signWith, type KeyPairFile } from '../crypto/keys.js';
import type { ReceiptBodyT, ReceiptMessage } from '../protocol/schemas.js';
import { canonicalBytes } from '../util/canonical.js';

/** A force-signed receipt: `complete` (stored and verified) or `missing` (send these chunks again). */
export function signReceipt(key: KeyPairFile, body: Omit<ReceiptBodyT, 'v' | 'kid'>): ReceiptMessage {
  const receipt: ReceiptBodyT = { v: 1, ...body, kid: key.kid };
  return { receipt, sig: signWith(key, SIG_CONTEXT.receipt, canonicalBytes(receipt)) };
}
