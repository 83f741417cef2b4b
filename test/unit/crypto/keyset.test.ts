import { describe, expect, it } from 'vitest';
import { generateKeyPair, publicInfo } from '../../../daemon/src/crypto/keys.js';
import { KeySetError, signKeySet, trustedSigner, validRecipients, verifyKeySet, type KeySetBody } from '../../../daemon/src/crypto/keyset.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 3, 1);
const root = generateKeyPair('ed25519');
const r1 = generateKeyPair('x25519');
const r2 = generateKeyPair('x25519');
const receipt = generateKeyPair('ed25519');

function body(o: Partial<KeySetBody> = {}): KeySetBody {
  return {
    v: 1,
    schema: 'hindsight-keyset/1',
    seq: 3,
    issued_at: NOW,
    root_kid: root.kid,
    recipients: [
      { ...publicInfo(r1), not_before: NOW - 10 * DAY, not_after: NOW + DAY },
      { ...publicInfo(r2), not_before: NOW - DAY, not_after: NOW + 100 * DAY },
    ].map(({ kid, pk, not_before, not_after }) => ({ kid, pk, not_before, not_after })),
    signers: [{ kid: receipt.kid, pk: receipt.pk, role: 'receipt', not_before: NOW - DAY, not_after: NOW + DAY }],
    ...o,
  };
}

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof KeySetError) return err.reason;
    throw err;
  }
  return 'accepted';
}

describe('force key sets', () => {
  it('a root-signed set verifies; the box seals to every key valid now (rotation overlap)', () => {
    const s = signKeySet(body(), root);
    expect(reason(() => verifyKeySet(s, { rootPk: root.pk, installedSeq: 2, now: NOW }))).toBe('accepted');
    expect(validRecipients(s.keyset, NOW).map((r) => r.kid)).toEqual([r1.kid, r2.kid]);
    expect(validRecipients(s.keyset, NOW + 2 * DAY).map((r) => r.kid)).toEqual([r2.kid]);
    expect(trustedSigner(s.keyset, receipt.kid, 'receipt', NOW)).toBeDefined();
    expect(trustedSigner(s.keyset, receipt.kid, 'command-admin', NOW)).toBeUndefined();
  });

  it('refuses an old seq, no root signature, another root, a changed body, expired keys, a small-order key', () => {
    const s = signKeySet(body(), root);
    expect(reason(() => verifyKeySet(s, { rootPk: root.pk, installedSeq: 3, now: NOW }))).toBe('old_seq');
    expect(reason(() => verifyKeySet(s, { rootPk: root.pk, installedSeq: 9, now: NOW }))).toBe('old_seq');
    expect(reason(() => verifyKeySet({ keyset: s.keyset }, { rootPk: root.pk, now: NOW }))).toBe('unsigned');
    expect(reason(() => verifyKeySet(s.keyset, { rootPk: root.pk, now: NOW }))).toBe('unsigned');
    const otherRoot = generateKeyPair('ed25519');
    expect(reason(() => verifyKeySet(s, { rootPk: otherRoot.pk, now: NOW }))).toBe('root_mismatch');
    const forged = signKeySet({ ...body(), root_kid: otherRoot.kid }, otherRoot);
    expect(reason(() => verifyKeySet(forged, { rootPk: root.pk, now: NOW }))).toBe('root_mismatch');
    const changed = structuredClone(s);
    changed.keyset.seq = 4;
    expect(reason(() => verifyKeySet(changed, { rootPk: root.pk, now: NOW }))).toBe('bad_signature');
    expect(reason(() => verifyKeySet(s, { rootPk: root.pk, now: NOW + 200 * DAY }))).toBe('expired');
    const small = signKeySet(body({ recipients: [{ kid: 'c6f4b7e7d1f3f6d9', pk: Buffer.alloc(32).toString('base64url'), not_before: 0, not_after: NOW + DAY }] }), root);
    expect(reason(() => verifyKeySet(small, { rootPk: root.pk, now: NOW }))).toBe('kid_mismatch');
    const zeroKid = '66687aadf862bd77'; // hex(sha256(32 zero bytes))[:16]
    const small2 = signKeySet(body({ recipients: [{ kid: zeroKid, pk: Buffer.alloc(32).toString('base64url'), not_before: 0, not_after: NOW + DAY }] }), root);
    expect(reason(() => verifyKeySet(small2, { rootPk: root.pk, now: NOW }))).toBe('small_order');
  });

  it('a revoked recipient key is never sealed to, and a set that still lists one is refused', () => {
    const withdrawn = body({ revoked: [r1.kid] });
    expect(validRecipients(withdrawn, NOW).map((r) => r.kid)).toEqual([r2.kid]);
    expect(reason(() => verifyKeySet(signKeySet(withdrawn, root), { rootPk: root.pk, now: NOW }))).toBe('revoked_recipient');
    const clean = body({ recipients: body().recipients.filter((r) => r.kid !== r1.kid), revoked: [r1.kid], revoked_at: { [r1.kid]: NOW } });
    expect(reason(() => verifyKeySet(signKeySet(clean, root), { rootPk: root.pk, now: NOW }))).toBe('accepted');
  });
});
