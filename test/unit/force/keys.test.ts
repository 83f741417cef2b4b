import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { trustedSigner, validRecipients, verifyKeySet } from '../../../daemon/src/crypto/keyset.js';
import { forceKeygen, loadRootKey, rotateRecipientKey } from '../../../daemon/src/force/keys.js';
import { tempDir } from '../../helpers/paths.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);

/**
 * Key rotation keeps a fleet alive: each `rotate` adds a recipient key (the old one overlaps) and renews the
 * receipt and command signers, so a force that rotates before its set expires never leaves its boxes with
 * signers they must refuse (they could then not even take the set_key_set that mends it).
 */
describe('force key rotation', () => {
  it('renews the receipt and command signers with each rotation; a set never rotated lapses whole', () => {
    const dir = path.join(tempDir('hs-keys-'), 'force');
    const first = forceKeygen(dir, { now: T0, validityDays: 30 }).keyset;
    const kids = first.keyset.signers.map((s) => `${s.role}:${s.kid}`);
    // unrotated: after 30 days the box trusts no signer of this set
    expect(first.keyset.signers.every((s) => !trustedSigner(first.keyset, s.kid, s.role, T0 + 31 * DAY))).toBe(true);

    let set = first;
    for (let month = 1; month <= 3; month++) {
      set = rotateRecipientKey(dir, { now: T0 + month * 25 * DAY, overlapDays: 7, validityDays: 30 });
    }
    const later = T0 + 3 * 25 * DAY + 20 * DAY; // 95 days on: far past the first validity
    expect(verifyKeySet(set, { rootPk: loadRootKey(dir).pk, now: later }).keyset.seq).toBe(4);
    // the same signer keys, still trusted
    expect(set.keyset.signers.map((s) => `${s.role}:${s.kid}`)).toEqual(kids);
    for (const s of set.keyset.signers) expect(trustedSigner(set.keyset, s.kid, s.role, later), s.role).toBeDefined();
    // and a recipient to seal to: the newest, the older ones past their overlap
    expect(validRecipients(set.keyset, later)).toHaveLength(1);
    expect(set.keyset.recipients.map((r) => r.not_after).every((t) => t <= T0 + 3 * 25 * DAY + 30 * DAY)).toBe(true);
  });
});
