import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import path from 'node:path';
import { HindsightError } from '../util/errors.js';
import { ensurePrivateDir, PRIVATE_FILE, readNoFollow, writeFileAtomic } from '../util/secure-fs.js';
import { b64u, fromB64u, sha256 } from './encoding.js';

/**
 * Keys of the protocol: Ed25519 for signatures (device, force root, receipt signer, command issuers) and
 * X25519 for HPKE recipients. Public keys travel as raw 32 bytes in base64url; a key id is
 * hex(sha256(raw public key))[:16]. Private keys live only in 0600 files and are never logged.
 */

export type KeyKind = 'ed25519' | 'x25519';

export interface PublicKeyInfo {
  kind: KeyKind;
  kid: string;
  /** raw 32-byte public key, base64url */
  pk: string;
}

export interface KeyPairFile extends PublicKeyInfo {
  v: 1;
  /** raw 32-byte private key, base64url. */
  sk: string;
}

export function keyId(rawPublicKey: Uint8Array): string {
  return sha256(rawPublicKey).subarray(0, 8).toString('hex');
}

const CRV: Record<KeyKind, string> = { ed25519: 'Ed25519', x25519: 'X25519' };

export function generateKeyPair(kind: KeyKind): KeyPairFile {
  const { privateKey } = kind === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('x25519');
  const jwk = privateKey.export({ format: 'jwk' });
  const pk = fromB64u(jwk.x, 'public key', 32);
  return { v: 1, kind, kid: keyId(pk), pk: jwk.x!, sk: jwk.d! };
}

export function publicInfo(pair: KeyPairFile): PublicKeyInfo {
  return { kind: pair.kind, kid: pair.kid, pk: pair.pk };
}

export function privateKeyObject(pair: KeyPairFile): KeyObject {
  return createPrivateKey({ key: { kty: 'OKP', crv: CRV[pair.kind], x: pair.pk, d: pair.sk }, format: 'jwk' });
}

export function publicKeyObject(kind: KeyKind, pk: string): KeyObject {
  fromB64u(pk, `${kind} public key`, 32);
  return createPublicKey({ key: { kty: 'OKP', crv: CRV[kind], x: pk }, format: 'jwk' });
}

/** Ed25519 over a domain-separation context and the message, so a signature for one purpose never verifies for another. */
export function signWith(pair: KeyPairFile, context: string, ...parts: Uint8Array[]): string {
  if (pair.kind !== 'ed25519') throw new HindsightError('only Ed25519 keys sign', { code: 'bad_key' });
  return b64u(sign(null, Buffer.concat([Buffer.from(context, 'utf8'), ...parts]), privateKeyObject(pair)));
}

export function verifyWith(pk: string, context: string, signature: unknown, ...parts: Uint8Array[]): boolean {
  try {
    const sig = fromB64u(signature, 'signature', 64);
    return verify(null, Buffer.concat([Buffer.from(context, 'utf8'), ...parts]), publicKeyObject('ed25519', pk), sig);
  } catch {
    return false;
  }
}

/** Domain-separation contexts of everything that is signed. */
export const SIG_CONTEXT = {
  envelope: 'hindsight-ev-v1\0',
  package: 'hindsight-pkg-v1\0',
  masters: 'hindsight-masters-v1\0',
  deletions: 'hindsight-deletions-v1\0',
  keyset: 'hindsight-keyset-v1\0',
  receipt: 'hindsight-receipt-v1\0',
  command: 'hindsight-cmd-v1\0',
  config: 'hindsight-config-v1\0',
  auditHead: 'hindsight-audit-head-v1\0',
  auditAck: 'hindsight-audit-ack-v1\0',
} as const;

/**
 * X25519 public keys of small order (and their non-canonical twins): a recipient key like this makes the
 * shared secret predictable. From the libsodium blocklist; the DH result check in HPKE catches the rest.
 */
const SMALL_ORDER_X25519 = new Set([
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'cdeb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880',
  '4c9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7',
  'd9ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  'daffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  'dbffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
]);

export function isSmallOrderX25519(raw: Uint8Array): boolean {
  return SMALL_ORDER_X25519.has(Buffer.from(raw).toString('hex'));
}

/** Write a secret (key, bundle, password) with mode 0600, atomically, never world-readable even briefly. */
export function writeSecretFile(file: string, content: string | Uint8Array): void {
  ensurePrivateDir(path.dirname(file));
  writeFileAtomic(file, content, PRIVATE_FILE);
}

export function writeKeyFile(file: string, pair: KeyPairFile): void {
  writeSecretFile(file, JSON.stringify(pair, null, 2) + '\n');
}

export function readKeyFile(file: string, kind?: KeyKind): KeyPairFile {
  let text: string;
  try {
    text = readNoFollow(file, (st) => {
      if (st.mode & 0o077) throw new HindsightError(`key file ${file} is readable by other users`, { code: 'key_permissions', hint: `run: chmod 600 ${file}` });
    }).data.toString('utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new HindsightError(`key file ${file} does not exist`, { code: 'key_missing' });
    throw err;
  }
  let parsed: KeyPairFile;
  try {
    parsed = JSON.parse(text) as KeyPairFile;
  } catch {
    throw new HindsightError(`key file ${file} is not a Hindsight key file`, { code: 'key_invalid' });
  }
  if (parsed.v !== 1 || (parsed.kind !== 'ed25519' && parsed.kind !== 'x25519') || (kind && parsed.kind !== kind)) {
    throw new HindsightError(`key file ${file} does not hold ${kind ? `an ${kind}` : 'a'} key`, { code: 'key_invalid' });
  }
  const pk = fromB64u(parsed.pk, 'public key', 32);
  fromB64u(parsed.sk, 'private key', 32);
  if (keyId(pk) !== parsed.kid) throw new HindsightError(`key file ${file}: kid does not match the key`, { code: 'key_invalid' });
  return parsed;
}
