import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { chunkCount, EnvelopeError, openEnvelope, sealEnvelope, verifyManifest, type SealedEnvelope } from '../../../daemon/src/crypto/envelope.js';
import { generateKeyPair, keyId, publicInfo } from '../../../daemon/src/crypto/keys.js';
import { fromB64u } from '../../../daemon/src/crypto/encoding.js';

const device = generateKeyPair('ed25519');
const force1 = generateKeyPair('x25519');
const force2 = generateKeyPair('x25519');
const limits = { maxChunks: 1000, maxBytes: 64 * 1024 * 1024 };

async function seal(plaintext: Buffer, chunkBytes = 1024): Promise<SealedEnvelope> {
  return sealEnvelope({
    plaintext,
    device,
    deviceId: 'box-1',
    incidentId: 'inc-1',
    msgSeq: 7,
    recipients: [publicInfo(force1), publicInfo(force2)],
    clock: { synced: true, offset_ms: 1.5 },
    now: Date.UTC(2026, 0, 1),
    chunkBytes,
  });
}

const clone = (e: SealedEnvelope): SealedEnvelope => ({ manifest: structuredClone(e.manifest), chunks: e.chunks.map((c) => Buffer.from(c)) });

async function rejects(e: SealedEnvelope, reason: string): Promise<void> {
  let err: unknown;
  try {
    verifyManifest(e.manifest, device.pk, limits);
    await openEnvelope(e.manifest, e.chunks, [force1]);
  } catch (x) {
    err = x;
  }
  expect(err, `expected rejection ${reason}`).toBeInstanceOf(EnvelopeError);
  expect((err as EnvelopeError).reason).toBe(reason);
}

describe('evidence envelope', () => {
  it('round-trips for every recipient key; kid is hex(sha256(pk))[:16]', async () => {
    const pt = randomBytes(5000);
    const e = await seal(pt);
    expect(e.manifest.n_chunks).toBe(chunkCount(5000, 1024));
    expect(e.manifest.header.recipients).toEqual([force1.kid, force2.kid]);
    expect(force1.kid).toBe(keyId(fromB64u(force1.pk, 'pk', 32)));
    expect(force1.kid).toMatch(/^[0-9a-f]{16}$/);
    verifyManifest(e.manifest, device.pk, limits);
    expect((await openEnvelope(e.manifest, e.chunks, [force1])).equals(pt)).toBe(true);
    expect((await openEnvelope(e.manifest, e.chunks, [force2])).equals(pt)).toBe(true);
    expect(e.chunks.every((c) => c.length <= 1024)).toBe(true);
  });

  it('an empty package is one chunk; the header carries no personal data', async () => {
    const e = await seal(Buffer.alloc(0));
    expect(e.manifest.n_chunks).toBe(1);
    expect(Object.keys(e.manifest.header).sort()).toEqual(['chunk', 'clock', 'created_at', 'device_id', 'envelope_id', 'incident_id', 'msg_seq', 'pt_len', 'recipients', 'schema', 'signer_kid', 'suite', 'v']);
    expect((await openEnvelope(e.manifest, e.chunks, [force1])).length).toBe(0);
  });

  it('rejects tampering with a reason: header, recipients, chunk bit, signature, order, truncation, duplicates, totals', async () => {
    const e = await seal(randomBytes(4000));
    let t = clone(e);
    t.manifest.header.incident_id = 'inc-2';
    await rejects(t, 'bad_signature');
    t = clone(e);
    t.manifest.recipients[0]!.wrapped = t.manifest.recipients[1]!.wrapped;
    await rejects(t, 'bad_signature');
    t = clone(e);
    t.manifest.recipients.reverse();
    await rejects(t, 'recipients');
    t = clone(e);
    t.chunks[1]![10]! ^= 1;
    await rejects(t, 'body_hash');
    t = clone(e);
    t.manifest.sig = Buffer.alloc(64).toString('base64url');
    await rejects(t, 'bad_signature');
    t = clone(e);
    [t.chunks[0], t.chunks[1]] = [t.chunks[1]!, t.chunks[0]!];
    await rejects(t, 'body_hash');
    t = clone(e);
    t.chunks.pop();
    await rejects(t, 'wrong_total');
    t = clone(e);
    t.chunks[2] = t.chunks[1]!;
    await rejects(t, 'body_hash');
    t = clone(e);
    t.chunks[t.chunks.length - 1] = t.chunks[t.chunks.length - 1]!.subarray(0, 20);
    await rejects(t, 'chunk_size');
    t = clone(e);
    t.manifest.n_chunks += 1;
    await rejects(t, 'wrong_total');
    t = clone(e);
    t.manifest.n_chunks = 0;
    await rejects(t, 'wrong_total');
    t = clone(e);
    t.manifest.header.pt_len = 0;
    await rejects(t, 'wrong_total');
  });

  it('rejects too many chunks, an oversized envelope and an unregistered signer kid', async () => {
    const e = await seal(randomBytes(3000), 100);
    expect(() => verifyManifest(e.manifest, device.pk, { maxChunks: 10, maxBytes: 1e9 })).toThrow(/outside 1\.\.10/);
    expect(() => verifyManifest(e.manifest, device.pk, { maxChunks: 1e6, maxBytes: 100 })).toThrow(/exceeds the cap/);
    const other = generateKeyPair('ed25519');
    expect(() => verifyManifest(e.manifest, other.pk, limits)).toThrow(/not this device's registered key/);
  });

  it('refuses to open without a private key for any listed recipient', async () => {
    const e = await seal(randomBytes(100));
    await expect(openEnvelope(e.manifest, e.chunks, [generateKeyPair('x25519')])).rejects.toThrow(/none of these private keys/);
  });

  it('a chunk re-encrypted under another envelope does not decrypt here (AAD binds header and index)', async () => {
    const a = await seal(Buffer.alloc(3000, 1));
    const b = await seal(Buffer.alloc(3000, 1));
    const t = clone(a);
    t.chunks[0] = b.chunks[0]!;
    await rejects(t, 'body_hash');
  });
});

describe('key material in logs', () => {
  it('a key pair object logged by mistake loses its private half', async () => {
    const { Writable } = await import('node:stream');
    const { createLogger } = await import('../../../daemon/src/log/logger.js');
    let text = '';
    const log = createLogger({ level: 'info', destination: new Writable({ write: (c: Buffer, _e, cb) => ((text += c.toString()), cb()) }) });
    log.info({ device }, 'device key');
    expect(text).toContain(device.kid);
    expect(text).not.toContain(device.sk);
  });
});
