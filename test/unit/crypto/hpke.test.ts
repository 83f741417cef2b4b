import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hpkeDeriveKeyPair, hpkeOpen, hpkeSeal } from '../../../daemon/src/crypto/hpke.js';
import { REPO_ROOT } from '../../helpers/paths.js';

const fx = JSON.parse(readFileSync(path.join(REPO_ROOT, 'test/fixtures/hpke-rfc9180.json'), 'utf8')) as Record<string, Record<string, string>>;
const h = (s: string | undefined): Buffer => Buffer.from(s ?? '', 'hex');
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('HPKE wrapper: RFC 9180 known answers', () => {
  it('A.1.1 (X25519, HKDF-SHA256, AES-128-GCM): fixed ephemeral gives the published enc and ciphertext, and opens', async () => {
    const v = fx.a11_aes128gcm!;
    const r = await hpkeSeal(h(v.pkRm), h(v.info), h(v.aad), h(v.pt), { aead: 'aes-128-gcm', testOnlyIkmE: h(v.ikmE) });
    expect(hex(r.enc)).toBe(v.enc);
    expect(hex(r.ct)).toBe(v.ct);
    const pt = await hpkeOpen(h(v.skRm), h(v.enc), h(v.info), h(v.aad), h(v.ct), { aead: 'aes-128-gcm' });
    expect(hex(pt)).toBe(v.pt);
    const derived = await hpkeDeriveKeyPair(h(v.ikmR));
    expect(hex(derived.sk)).toBe(v.skRm);
    expect(hex(derived.pk)).toBe(v.pkRm);
  });

  it('X25519 / HKDF-SHA256 / AES-256-GCM (the envelope suite): derived keys and enc match the CFRG vectors', async () => {
    const v = fx.x25519_sha256_aes256gcm!;
    const derived = await hpkeDeriveKeyPair(h(v.ikmR));
    expect(hex(derived.sk)).toBe(v.skRm);
    expect(hex(derived.pk)).toBe(v.pkRm);
    const r = await hpkeSeal(h(v.pkRm), h(v.info), Buffer.from('aad'), Buffer.from('content key'), { testOnlyIkmE: h(v.ikmE) });
    expect(hex(r.enc)).toBe(v.enc);
    expect(Buffer.from(await hpkeOpen(h(v.skRm), r.enc, h(v.info), Buffer.from('aad'), r.ct)).toString()).toBe('content key');
  });

  it('refuses a tampered ciphertext, wrong aad or wrong info', async () => {
    const v = fx.a11_aes128gcm!;
    const ct = h(v.ct);
    ct[3]! ^= 1;
    await expect(hpkeOpen(h(v.skRm), h(v.enc), h(v.info), h(v.aad), ct, { aead: 'aes-128-gcm' })).rejects.toThrow(/HPKE open failed/);
    await expect(hpkeOpen(h(v.skRm), h(v.enc), h(v.info), Buffer.from('other'), h(v.ct), { aead: 'aes-128-gcm' })).rejects.toThrow(/HPKE open failed/);
    await expect(hpkeOpen(h(v.skRm), h(v.enc), Buffer.from('x'), h(v.aad), h(v.ct), { aead: 'aes-128-gcm' })).rejects.toThrow(/HPKE open failed/);
  });

  it('refuses small-order X25519 keys as recipient key and as enc', async () => {
    const zero = Buffer.alloc(32);
    const one = Buffer.alloc(32);
    one[0] = 1;
    const order8 = h('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800');
    for (const bad of [zero, one, order8]) {
      await expect(hpkeSeal(bad, Buffer.alloc(0), Buffer.alloc(0), Buffer.from('x'))).rejects.toThrow(/small order/);
      await expect(hpkeOpen(h(fx.a11_aes128gcm!.skRm), bad, Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(32))).rejects.toThrow(/small order/);
    }
  });
});
