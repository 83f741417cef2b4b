import { Aes128Gcm, Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { HindsightError } from '../util/errors.js';
import { ownBytes } from './encoding.js';
import { isSmallOrderX25519 } from './keys.js';

/**
 * The only HPKE (RFC 9180) entry point: base mode, DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 /
 * AES-256-GCM, single-shot, through the maintained `@hpke/core` (no hand-rolled HPKE).
 * AES-128-GCM exists here only so the RFC's Appendix A.1 known-answer vectors can run through this
 * same wrapper.
 */

export type HpkeAead = 'aes-256-gcm' | 'aes-128-gcm';

export const SUITE_NAME = 'DHKEM-X25519-HKDF-SHA256/HKDF-SHA256/AES-256-GCM';

const suites = new Map<HpkeAead, CipherSuite>();

function suite(aead: HpkeAead): CipherSuite {
  let s = suites.get(aead);
  if (!s) {
    s = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: aead === 'aes-256-gcm' ? new Aes256Gcm() : new Aes128Gcm() });
    suites.set(aead, s);
  }
  return s;
}

export class HpkeError extends HindsightError {
  constructor(message: string) {
    super(message, { code: 'hpke' });
  }
}

export interface HpkeSealed {
  enc: Uint8Array;
  ct: Uint8Array;
}

export interface SealOptions {
  aead?: HpkeAead;
  /** Fixed ephemeral key seed (RFC 9180 ikmE). For known-answer tests only: never in production. */
  testOnlyIkmE?: Uint8Array;
}

function checkRecipientKey(raw: Uint8Array): void {
  if (raw.length !== 32) throw new HpkeError(`an X25519 public key is 32 bytes, not ${raw.length}`);
  if (isSmallOrderX25519(raw)) throw new HpkeError('the X25519 public key has small order (refused)');
}

export async function hpkeSeal(recipientPk: Uint8Array, info: Uint8Array, aad: Uint8Array, pt: Uint8Array, options: SealOptions = {}): Promise<HpkeSealed> {
  checkRecipientKey(recipientPk);
  const s = suite(options.aead ?? 'aes-256-gcm');
  try {
    const pk = await s.kem.importKey('raw', ownBytes(recipientPk).buffer, true);
    const params = { recipientPublicKey: pk, info: ownBytes(info), ...(options.testOnlyIkmE ? { ekm: ownBytes(options.testOnlyIkmE) } : {}) };
    const out = await s.seal(params, ownBytes(pt), ownBytes(aad));
    return { enc: new Uint8Array(out.enc), ct: new Uint8Array(out.ct) };
  } catch (err) {
    throw new HpkeError(`HPKE seal failed: ${(err as Error).name}`);
  }
}

export async function hpkeOpen(recipientSk: Uint8Array, enc: Uint8Array, info: Uint8Array, aad: Uint8Array, ct: Uint8Array, options: { aead?: HpkeAead } = {}): Promise<Uint8Array> {
  // A small-order `enc` gives a predictable shared secret; refuse it before any work.
  checkRecipientKey(enc);
  const s = suite(options.aead ?? 'aes-256-gcm');
  try {
    const sk = await s.kem.importKey('raw', ownBytes(recipientSk).buffer, false);
    const pt = await s.open({ recipientKey: sk, enc: ownBytes(enc), info: ownBytes(info) }, ownBytes(ct), ownBytes(aad));
    return new Uint8Array(pt);
  } catch (err) {
    throw new HpkeError(`HPKE open failed: ${(err as Error).name}`);
  }
}

/** RFC 9180 DeriveKeyPair for X25519 (known-answer tests): raw private and public key. */
export async function hpkeDeriveKeyPair(ikm: Uint8Array): Promise<{ sk: Uint8Array; pk: Uint8Array }> {
  const s = suite('aes-256-gcm');
  const pair = await s.kem.deriveKeyPair(ownBytes(ikm).buffer);
  return { sk: new Uint8Array(await s.kem.serializePrivateKey(pair.privateKey)), pk: new Uint8Array(await s.kem.serializePublicKey(pair.publicKey)) };
}
