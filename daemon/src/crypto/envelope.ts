import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { canonicalBytes } from '../util/canonical.js';
import type { ClockState } from '../util/clock-sync.js';
import { HindsightError } from '../util/errors.js';
import { b64u, fromB64u, sha256, u32be } from './encoding.js';
import { hpkeOpen, hpkeSeal, SUITE_NAME } from './hpke.js';
import { keyId, SIG_CONTEXT, signWith, verifyWith, type KeyPairFile } from './keys.js';
import type { EnvelopeHeader, EnvelopeManifest, RecipientEntry } from '../protocol/schemas.js';

/**
 * The evidence envelope (PROTOCOL.md "Evidence envelope (v1)"), two layers as in COSE-HPKE:
 * a fresh content key (CEK) encrypts the package in chunks with AES-256-GCM; the CEK is HPKE-sealed to
 * every valid force recipient key with the canonical header as AAD; the device signs header, recipients
 * and body. The CEK exists only inside `sealEnvelope` and is zeroed before it returns.
 */

export const ENVELOPE_INFO = Buffer.from('hindsight/evidence/v1', 'utf8');
/** Largest ciphertext chunk on the wire (the MQTT chunk limit); a chunk's plaintext is 16 bytes less (GCM tag). */
export const MAX_CHUNK = 65536;
const TAG = 16;
export const CHUNK_PREFIX = 24;

/**
 * The manifest's types are the wire schema's (protocol/schemas.ts). In the header, `envelope_id` is 16
 * random bytes as 32 hex characters (also the first 16 bytes of every chunk message) and `chunk` the
 * ciphertext bytes per chunk (every chunk but the last is exactly this long).
 */
export type { EnvelopeHeader, EnvelopeManifest, RecipientEntry } from '../protocol/schemas.js';

export interface SealedEnvelope {
  manifest: EnvelopeManifest;
  /** Ciphertext of each chunk, in order (the 24-byte wire prefix is added when publishing). */
  chunks: Buffer[];
}

export class EnvelopeError extends HindsightError {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message, { code: `envelope_${reason}` });
  }
}

export interface SealInput {
  plaintext: Uint8Array;
  device: KeyPairFile;
  deviceId: string;
  incidentId: string;
  msgSeq: number;
  recipients: { kid: string; pk: string }[];
  clock: Pick<ClockState, 'synced' | 'offset_ms'>;
  now: number;
  chunkBytes?: number;
  envelopeId?: string;
}

export function chunkCount(ptLen: number, chunk: number): number {
  return Math.max(1, Math.ceil(ptLen / (chunk - TAG)));
}

function chunkNonce(envelopeId: string, index: number, last: boolean): Buffer {
  // 7-byte prefix from the envelope id: nonces only need to be unique per CEK, and each CEK is fresh.
  return Buffer.concat([Buffer.from(envelopeId, 'hex').subarray(0, 7), u32be(index), Buffer.from([last ? 1 : 0])]);
}

function chunkAad(headerHash: Buffer, index: number, last: boolean): Buffer {
  return Buffer.concat([headerHash, u32be(index), Buffer.from([last ? 1 : 0])]);
}

function signedDigest(header: EnvelopeHeader, recipients: RecipientEntry[], bodySha256: Buffer): Buffer[] {
  return [sha256(canonicalBytes(header)), sha256(canonicalBytes(recipients)), bodySha256];
}

export function newEnvelopeId(): string {
  return randomBytes(16).toString('hex');
}

export async function sealEnvelope(input: SealInput): Promise<SealedEnvelope> {
  const chunk = input.chunkBytes ?? MAX_CHUNK;
  if (!Number.isInteger(chunk) || chunk <= TAG || chunk > MAX_CHUNK) throw new EnvelopeError('chunk_size', `chunk size must be 17..${MAX_CHUNK}`);
  if (input.recipients.length === 0) throw new EnvelopeError('no_recipients', 'no valid force recipient key to seal to');
  if (input.device.kind !== 'ed25519') throw new EnvelopeError('bad_key', 'the device key must be Ed25519');
  const header: EnvelopeHeader = {
    v: 1,
    schema: 'hindsight-evidence/1',
    suite: SUITE_NAME,
    device_id: input.deviceId,
    signer_kid: input.device.kid,
    incident_id: input.incidentId,
    envelope_id: input.envelopeId ?? newEnvelopeId(),
    msg_seq: input.msgSeq,
    created_at: input.now,
    clock: { synced: input.clock.synced, offset_ms: input.clock.offset_ms },
    pt_len: input.plaintext.length,
    chunk,
    recipients: input.recipients.map((r) => r.kid),
  };
  const headerBytes = canonicalBytes(header);
  const headerHash = sha256(headerBytes);
  const cek = randomBytes(32);
  try {
    const recipients: RecipientEntry[] = [];
    for (const r of input.recipients) {
      const sealed = await hpkeSeal(fromB64u(r.pk, 'recipient key', 32), ENVELOPE_INFO, headerBytes, cek);
      recipients.push({ kid: r.kid, enc: b64u(sealed.enc), wrapped: b64u(sealed.ct) });
    }
    const n = chunkCount(header.pt_len, chunk);
    const step = chunk - TAG;
    const chunks: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      const last = i === n - 1;
      const c = createCipheriv('aes-256-gcm', cek, chunkNonce(header.envelope_id, i, last));
      c.setAAD(chunkAad(headerHash, i, last));
      const ct = Buffer.concat([c.update(input.plaintext.subarray(i * step, (i + 1) * step)), c.final(), c.getAuthTag()]);
      chunks.push(ct);
    }
    const bodyHash = sha256(...chunks);
    const sig = signWith(input.device, SIG_CONTEXT.envelope, ...signedDigest(header, recipients, bodyHash));
    return { manifest: { header, recipients, sig, n_chunks: n, body_sha256: bodyHash.toString('hex') }, chunks };
  } finally {
    cek.fill(0);
  }
}

export interface ManifestLimits {
  maxChunks: number;
  maxBytes: number;
}

/**
 * Everything that can be checked from the manifest alone, before any chunk is stored or decrypted:
 * consistent header, chunk arithmetic within caps, the device's signature over header, recipients and
 * the announced body hash. The device key comes from the force's registry (looked up by the caller).
 */
export function verifyManifest(m: EnvelopeManifest, devicePk: string, limits: ManifestLimits): void {
  const h = m.header;
  if (h.v !== 1 || h.schema !== 'hindsight-evidence/1') throw new EnvelopeError('version', 'unknown envelope version');
  if (h.suite !== SUITE_NAME) throw new EnvelopeError('suite', `unsupported suite ${h.suite}`);
  if (keyId(fromB64u(devicePk, 'device key', 32)) !== h.signer_kid) throw new EnvelopeError('unknown_kid', `signer ${h.signer_kid} is not this device's registered key`);
  if (!Number.isInteger(h.chunk) || h.chunk <= TAG || h.chunk > MAX_CHUNK) throw new EnvelopeError('chunk_size', `chunk size ${h.chunk} is out of range`);
  if (h.pt_len > limits.maxBytes) throw new EnvelopeError('too_large', `envelope of ${h.pt_len} bytes exceeds the cap of ${limits.maxBytes}`);
  const expected = chunkCount(h.pt_len, h.chunk);
  if (m.n_chunks !== expected) throw new EnvelopeError('wrong_total', `manifest announces ${m.n_chunks} chunks, the header implies ${expected}`);
  if (m.n_chunks < 1 || m.n_chunks > limits.maxChunks) throw new EnvelopeError('too_many_chunks', `${m.n_chunks} chunks is outside 1..${limits.maxChunks}`);
  if (m.recipients.length !== h.recipients.length || m.recipients.some((r, i) => r.kid !== h.recipients[i])) {
    throw new EnvelopeError('recipients', 'recipient entries do not match the header');
  }
  if (!verifyWith(devicePk, SIG_CONTEXT.envelope, m.sig, ...signedDigest(h, m.recipients, Buffer.from(m.body_sha256, 'hex')))) {
    throw new EnvelopeError('bad_signature', 'the device signature does not verify (header, recipients or body hash changed)');
  }
}

/** The exact length chunk i must have. */
export function expectedChunkLength(h: EnvelopeHeader, index: number, total: number): number {
  const step = h.chunk - TAG;
  return index < total - 1 ? h.chunk : h.pt_len - step * (total - 1) + TAG;
}

/**
 * Decrypt a complete, signature-checked envelope with one of the force's recipient keys. Checks the body
 * hash (bound by the signature) first, so nothing unsigned is ever decrypted.
 */
export async function openEnvelope(m: EnvelopeManifest, chunks: Buffer[], recipientKeys: KeyPairFile[]): Promise<Buffer> {
  const h = m.header;
  if (chunks.length !== m.n_chunks) throw new EnvelopeError('wrong_total', `have ${chunks.length} chunks, expected ${m.n_chunks}`);
  chunks.forEach((c, i) => {
    if (c.length !== expectedChunkLength(h, i, m.n_chunks)) throw new EnvelopeError('chunk_size', `chunk ${i} has ${c.length} bytes, expected ${expectedChunkLength(h, i, m.n_chunks)}`);
  });
  if (sha256(...chunks).toString('hex') !== m.body_sha256) throw new EnvelopeError('body_hash', 'the chunks do not hash to the signed body hash (tampered, reordered or mixed chunks)');
  const headerBytes = canonicalBytes(h);
  const entry = m.recipients.find((r) => recipientKeys.some((k) => k.kid === r.kid));
  const key = entry && recipientKeys.find((k) => k.kid === entry.kid);
  if (!entry || !key) throw new EnvelopeError('no_recipient_key', `sealed to ${h.recipients.join(', ')}; none of these private keys is held here`);
  let cek: Buffer;
  try {
    cek = Buffer.from(await hpkeOpen(fromB64u(key.sk, 'recipient private key', 32), fromB64u(entry.enc, 'enc', 32), ENVELOPE_INFO, headerBytes, fromB64u(entry.wrapped, 'wrapped key')));
  } catch (err) {
    throw new EnvelopeError('unwrap', `cannot unwrap the content key: ${(err as Error).message}`);
  }
  try {
    const headerHash = sha256(headerBytes);
    const parts = chunks.map((c, i) => {
      const last = i === chunks.length - 1;
      const d = createDecipheriv('aes-256-gcm', cek, chunkNonce(h.envelope_id, i, last));
      d.setAAD(chunkAad(headerHash, i, last));
      d.setAuthTag(c.subarray(c.length - TAG));
      try {
        return Buffer.concat([d.update(c.subarray(0, c.length - TAG)), d.final()]);
      } catch {
        throw new EnvelopeError('decrypt', `chunk ${i} does not decrypt`);
      }
    });
    const pt = Buffer.concat(parts);
    if (pt.length !== h.pt_len) throw new EnvelopeError('length', `plaintext is ${pt.length} bytes, header says ${h.pt_len}`);
    return pt;
  } finally {
    cek.fill(0);
  }
}

/** Chunk message on the wire: envelope id (16) || index u32 || total u32 || ciphertext. */
export function encodeChunkMessage(envelopeId: string, index: number, total: number, ct: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(envelopeId, 'hex'), u32be(index), u32be(total), ct]);
}

export function decodeChunkMessage(msg: Buffer): { envelopeId: string; index: number; total: number; ct: Buffer } {
  if (msg.length <= CHUNK_PREFIX) throw new EnvelopeError('truncated', `chunk message of ${msg.length} bytes is too short`);
  if (msg.length > CHUNK_PREFIX + MAX_CHUNK) throw new EnvelopeError('chunk_size', `chunk message of ${msg.length} bytes is too long`);
  return { envelopeId: msg.subarray(0, 16).toString('hex'), index: msg.readUInt32BE(16), total: msg.readUInt32BE(20), ct: msg.subarray(CHUNK_PREFIX) };
}
