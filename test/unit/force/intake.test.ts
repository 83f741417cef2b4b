import { existsSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeChunkMessage, sealEnvelope, type SealedEnvelope } from '../../../daemon/src/crypto/envelope.js';
import { generateKeyPair, SIG_CONTEXT, signWith, verifyWith, type KeyPairFile } from '../../../daemon/src/crypto/keys.js';
import { sha256 } from '../../../daemon/src/crypto/encoding.js';
import { canonicalBytes } from '../../../daemon/src/util/canonical.js';
import { validRecipients } from '../../../daemon/src/crypto/keyset.js';
import { buildPackage, packageInputFromFolder } from '../../../daemon/src/evidence/builder.js';
import { ForceConfigSchema } from '../../../daemon/src/force/config.js';
import type { ForceDb } from '../../../daemon/src/force/database.js';
import { EnvelopeIntake, type IntakeOutcome } from '../../../daemon/src/force/intake.js';
import { loadKeySet, loadReceiptKey, revokeRecipientKey, rotateRecipientKey } from '../../../daemon/src/force/keys.js';
import { DeviceRegistry } from '../../../daemon/src/force/registry.js';
import { ManualClock } from '../../../daemon/src/util/clock.js';
import { makePackageFolder } from '../../helpers/evidence.js';
import { forceIntake, forceWithBox } from '../../helpers/force-intake.js';
import { tempDir } from '../../helpers/paths.js';

const P = 'hindsight/v1';
const T0 = Date.UTC(2026, 5, 1);
const defaultCaps = { max_envelope_bytes: 64 * 1024 * 1024, max_chunks: 1000, reassembly_timeout_s: 600, max_pending_per_device: 8, missing_after_s: 5 };

describe('force intake: every envelope bad input is rejected with a reason and nothing is stored', () => {
  let dir: string;
  let device: KeyPairFile;
  let plaintext: Buffer;
  let fdb: ForceDb;
  let recipients: { kid: string; pk: string }[];
  let seq = 0;
  const clock = new ManualClock(T0);
  const receipts: { device: string; body: { status: string; missing: number[]; envelope: string }; raw: string }[] = [];

  function intake(caps: Partial<typeof defaultCaps> = {}): EnvelopeIntake {
    return forceIntake(path.join(dir, 'force'), fdb, clock, { ...defaultCaps, ...caps }, async (d, payload) => {
      receipts.push({ device: d, body: (JSON.parse(payload) as { receipt: { status: string; missing: number[]; envelope: string } }).receipt, raw: payload });
    });
  }

  const seal = (o: { signer?: KeyPairFile; to?: { kid: string; pk: string }[]; incident?: string; msgSeq?: number } = {}): Promise<SealedEnvelope> =>
    sealEnvelope({ plaintext, device: o.signer ?? device, deviceId: 'box-1', incidentId: o.incident ?? 'inc-1', msgSeq: o.msgSeq ?? ++seq, recipients: o.to ?? recipients, clock: { synced: true, offset_ms: 0 }, now: clock.now(), chunkBytes: 4096 });

  const topic = (e: SealedEnvelope, suffix: string | number): string => `${P}/box-1/ev/${e.manifest.header.envelope_id}/${suffix}`;

  async function deliver(i: EnvelopeIntake, e: SealedEnvelope, chunks = e.chunks.map((c, idx) => ({ idx, ct: c }))): Promise<IntakeOutcome[]> {
    const out = [await i.handle(topic(e, 'm'), Buffer.from(JSON.stringify(e.manifest)))];
    for (const c of chunks) out.push(await i.handle(topic(e, c.idx), encodeChunkMessage(e.manifest.header.envelope_id, c.idx, e.manifest.n_chunks, c.ct)));
    return out;
  }

  const stored = (e: SealedEnvelope): boolean =>
    (fdb.db.prepare('SELECT COUNT(*) AS n FROM incidents WHERE envelope_id = ?').get(e.manifest.header.envelope_id) as { n: number }).n > 0 ||
    existsSync(path.join(dir, 'force', 'store', 'box-1', e.manifest.header.incident_id, e.manifest.header.envelope_id));

  function expectRejected(outcomes: IntakeOutcome[], reason: string, e: SealedEnvelope): void {
    const r = outcomes.find((o) => o.kind === 'rejected');
    expect(r, `expected a rejection (${reason}), got ${JSON.stringify(outcomes.map((o) => o.kind))}`).toBeDefined();
    expect((r as { reason: string }).reason).toBe(reason);
    expect(stored(e)).toBe(false);
    const row = fdb.db.prepare('SELECT reason FROM rejections WHERE envelope_id = ? ORDER BY id DESC').get(e.manifest.header.envelope_id) as { reason: string } | undefined;
    expect(row?.reason).toBe(reason);
  }

  beforeAll(async () => {
    dir = tempDir('hs-intake-');
    ({ fdb, device } = forceWithBox(path.join(dir, 'force'), clock, T0));
    recipients = validRecipients(loadKeySet(path.join(dir, 'force')).keyset, T0);
    const pkg = await makePackageFolder(path.join(dir, 'pkg'), { subjects: 1, padBytes: 12_000 });
    plaintext = buildPackage(packageInputFromFolder(pkg.dir, { incidentId: 'inc-1', deviceId: 'box-1', store: 'Shop', window: { start: T0 - 90_000, end: T0 }, embeddingModel: 'm', models: [], tools: {}, clock: { synced: true, offset_ms: 0, source: 'unknown' }, now: T0 }), device).plaintext;
  });

  it('a genuine envelope is stored once; every chunk sent twice changes nothing; a replay of it only re-sends the receipt', async () => {
    const i = intake();
    const e = await seal();
    const doubled = e.chunks.flatMap((c, idx) => [{ idx, ct: c }, { idx, ct: c }]);
    const out = await deliver(i, e, doubled);
    expect(out.filter((o) => o.kind === 'stored')).toHaveLength(1);
    expect(stored(e)).toBe(true);
    await deliver(i, e);
    expect((fdb.db.prepare('SELECT COUNT(*) AS n FROM incidents WHERE envelope_id = ?').get(e.manifest.header.envelope_id) as { n: number }).n).toBe(1);
    expect(receipts.filter((r) => r.body.envelope === e.manifest.header.envelope_id && r.body.status === 'complete').length).toBe(2);
  });

  it('tampered header, recipients or signature: bad_signature before any chunk is kept', async () => {
    for (const tamper of [
      (e: SealedEnvelope) => void (e.manifest.header.pt_len += 0, (e.manifest.header.clock.synced = false)),
      (e: SealedEnvelope) => void (e.manifest.recipients[0]!.enc = e.manifest.recipients[0]!.enc.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))),
      (e: SealedEnvelope) => void (e.manifest.sig = e.manifest.sig.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))),
      (e: SealedEnvelope) => void (e.manifest.body_sha256 = '0'.repeat(64)),
    ]) {
      const e = await seal();
      tamper(e);
      const out = await deliver(intake(), e);
      expectRejected(out, 'bad_signature', e);
      expect((fdb.db.prepare('SELECT COUNT(*) AS n FROM chunks WHERE envelope_id = ?').get(e.manifest.header.envelope_id) as { n: number }).n).toBe(0);
    }
  });

  it('a flipped bit in a chunk or reordered chunks fail the signed body hash; the box is asked for every chunk again', async () => {
    const i = intake();
    const flipped = await seal();
    const bad = flipped.chunks.map((c, idx) => ({ idx, ct: idx === 1 ? Buffer.from(c.map((b, j) => (j === 5 ? b ^ 1 : b))) : c }));
    expectRejected(await deliver(i, flipped, bad), 'body_hash', flipped);
    const last = receipts.at(-1)!;
    expect(last.body).toMatchObject({ envelope: flipped.manifest.header.envelope_id, status: 'missing' });
    expect(last.body.missing).toEqual(flipped.chunks.map((_, idx) => idx));
    // the genuine chunks sent again are accepted
    const out = await deliver(i, flipped);
    expect(out.some((o) => o.kind === 'stored')).toBe(true);

    const reordered = await seal();
    const swapped = reordered.chunks.map((_, idx) => ({ idx, ct: reordered.chunks[idx === 0 ? 1 : idx === 1 ? 0 : idx]! }));
    expectRejected(await deliver(intake(), reordered, swapped), 'body_hash', reordered);
  });

  it('truncated chunk, wrong total, chunk prefix for another envelope: rejected per chunk', async () => {
    const e = await seal();
    const i = intake();
    await i.handle(topic(e, 'm'), Buffer.from(JSON.stringify(e.manifest)));
    const id = e.manifest.header.envelope_id;
    expect(await i.handle(topic(e, 0), encodeChunkMessage(id, 0, e.manifest.n_chunks, e.chunks[0]!.subarray(0, 100)))).toMatchObject({ kind: 'rejected', reason: 'chunk_size' });
    expect(await i.handle(topic(e, 0), encodeChunkMessage(id, 0, e.manifest.n_chunks + 1, e.chunks[0]!))).toMatchObject({ kind: 'rejected', reason: 'wrong_total' });
    expect(await i.handle(topic(e, 0), encodeChunkMessage(id, 1, e.manifest.n_chunks, e.chunks[1]!))).toMatchObject({ kind: 'rejected', reason: 'chunk_prefix' });
    expect(await i.handle(topic(e, 0), Buffer.alloc(10))).toMatchObject({ kind: 'rejected', reason: 'truncated' });
    expect(await i.handle(topic(e, 99), encodeChunkMessage(id, 99, e.manifest.n_chunks, e.chunks[0]!))).toMatchObject({ kind: 'rejected', reason: 'wrong_total' });
    expect(stored(e)).toBe(false);
  });

  it('a truncated envelope (last chunk never comes) is not stored; the quiet envelope gets a `missing` receipt, then expires', async () => {
    const e = await seal();
    const i = intake();
    const chunks = e.chunks.map((ct, idx) => ({ idx, ct })).slice(0, -1);
    await deliver(i, e, chunks);
    clock.advance(6000);
    await i.sweep();
    expect(receipts.at(-1)!.body).toMatchObject({ envelope: e.manifest.header.envelope_id, status: 'missing', missing: [e.manifest.n_chunks - 1] });
    clock.advance(601_000);
    await i.sweep();
    expect(stored(e)).toBe(false);
    expect((fdb.db.prepare('SELECT reason FROM envelopes WHERE envelope_id = ?').get(e.manifest.header.envelope_id) as { reason: string }).reason).toBe('reassembly_timeout');
    clock.set(T0);
  });

  it('zero chunks, too many chunks, oversize, unknown device, unknown signer kid, junk manifest, topic mismatch', async () => {
    let e = await seal();
    e.manifest.n_chunks = 0;
    expectRejected(await deliver(intake(), e, []), 'wrong_total', e);
    e = await seal();
    expectRejected(await deliver(intake({ max_chunks: 2 }), e), 'too_many_chunks', e);
    e = await seal();
    expectRejected(await deliver(intake({ max_envelope_bytes: 1024 }), e), 'too_large', e);
    e = await seal({ signer: generateKeyPair('ed25519') });
    expectRejected(await deliver(intake(), e), 'unknown_kid', e);
    e = await seal();
    const stranger = await intake().handle(`${P}/box-9/ev/${e.manifest.header.envelope_id}/m`, Buffer.from(JSON.stringify(e.manifest)));
    expect(stranger).toMatchObject({ kind: 'rejected', reason: 'unknown_device' });
    expect(await intake().handle(topic(e, 'm'), Buffer.from('{"header":1}'))).toMatchObject({ kind: 'rejected', reason: 'bad_schema' });
    expect(await intake().handle(`${P}/box-1/ev/${'ab'.repeat(16)}/m`, Buffer.from(JSON.stringify(e.manifest)))).toMatchObject({ kind: 'rejected', reason: 'topic_mismatch' });
  });

  it('an envelope left half-opened by a stopped receiver is finished by the sweep after a long quiet', async () => {
    const i = intake();
    const e = await seal();
    const id = e.manifest.header.envelope_id;
    const all = e.chunks.map((ct, idx) => ({ idx, ct }));
    await deliver(i, e, all.slice(0, -1));
    fdb.db.prepare('INSERT INTO chunks (envelope_id, idx, data) VALUES (?, ?, ?)').run(id, all.length - 1, all.at(-1)!.ct);
    fdb.db.prepare("UPDATE envelopes SET state = 'opening' WHERE envelope_id = ?").run(id);
    clock.advance(30_000);
    await i.sweep();
    expect(stored(e)).toBe(false);
    clock.advance(31_000);
    await i.sweep();
    expect(stored(e)).toBe(true);
    clock.set(T0);
  });

  it('a revoked box is refused', async () => {
    const reg = new DeviceRegistry(fdb.db);
    reg.enroll('box-lost', 'Shop', T0);
    reg.register('box-lost', device.pk, T0);
    expect(reg.revoke('box-lost')).toBe(true);
    const e = await seal();
    const out = await intake().handle(`${P}/box-lost/ev/${e.manifest.header.envelope_id}/m`, Buffer.from(JSON.stringify(e.manifest)));
    expect(out).toMatchObject({ kind: 'rejected', reason: 'revoked_device' });
  });

  it('replay protection: a new envelope reusing a stored msg_seq is refused', async () => {
    const first = await seal({ msgSeq: 5000 });
    await deliver(intake(), first);
    expect(stored(first)).toBe(true);
    const again = await seal({ msgSeq: 5000 });
    expectRejected(await deliver(intake(), again), 'replay', again);
  });

  it('dead envelopes: a refusal no resend can mend is answered with a signed `rejected` receipt and its reason; a transient one, or a revoked box, gets none', async () => {
    const first = await seal({ msgSeq: 7000 });
    await deliver(intake(), first);
    const again = await seal({ msgSeq: 7000 });
    const before = receipts.length;
    expectRejected(await deliver(intake(), again), 'replay', again);
    const dead = receipts.slice(before).filter((r) => r.body.envelope === again.manifest.header.envelope_id);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.body).toMatchObject({ status: 'rejected', body_sha256: again.manifest.body_sha256, missing: [] });
    expect((dead[0]!.body as { reason?: string }).reason).toMatch(/^replay: msg_seq 7000 was already used/);
    // signed by the force's receipt key, as a box checks it
    const signed = JSON.parse(dead[0]!.raw) as { receipt: Record<string, unknown>; sig: string };
    const receiptKey = loadReceiptKey(path.join(dir, 'force'));
    expect(verifyWith(receiptKey.pk, SIG_CONTEXT.receipt, signed.sig, canonicalBytes(signed.receipt))).toBe(true);

    // transient: too many in reassembly (the box's resend may succeed later)
    const i = intake({ max_pending_per_device: 1 });
    const a = await seal();
    const b = await seal();
    await i.handle(topic(a, 'm'), Buffer.from(JSON.stringify(a.manifest)));
    const mark = receipts.length;
    expectRejected([await i.handle(topic(b, 'm'), Buffer.from(JSON.stringify(b.manifest)))], 'too_many_pending', b);
    expect(receipts.slice(mark)).toEqual([]);
  });

  it('concurrent envelopes per device are capped', async () => {
    const i = intake({ max_pending_per_device: 1 });
    const a = await seal();
    const b = await seal();
    await i.handle(topic(a, 'm'), Buffer.from(JSON.stringify(a.manifest)));
    expectRejected([await i.handle(topic(b, 'm'), Buffer.from(JSON.stringify(b.manifest)))], 'too_many_pending', b);
  });

  it('sealed to a key this force does not hold, to an expired key, or with a small-order X25519 enc: rejected, nothing stored', async () => {
    const other = generateKeyPair('x25519');
    const e = await seal({ to: [{ kid: other.kid, pk: other.pk }] });
    expectRejected(await deliver(intake(), e), 'no_recipient_key', e);
    expect((fdb.db.prepare('SELECT COUNT(*) AS n FROM chunks WHERE envelope_id = ?').get(e.manifest.header.envelope_id) as { n: number }).n).toBe(0);

    // Sealed (by a box with a wrong clock or an old key set) after the force key had expired.
    clock.advance(31 * 86_400_000);
    const late = await seal();
    clock.set(T0);
    expectRejected(await deliver(intake(), late), 'expired_key', late);

    // A device-signed envelope whose HPKE enc is a small-order point (e.g. a broken or hostile box).
    const s = await seal();
    s.manifest.recipients[0]!.enc = Buffer.alloc(32).toString('base64url');
    const { header, recipients: rs } = s.manifest;
    s.manifest.sig = signWith(device, SIG_CONTEXT.envelope, sha256(canonicalBytes(header)), sha256(canonicalBytes(rs)), Buffer.from(s.manifest.body_sha256, 'hex'));
    const out = await deliver(intake(), s);
    expectRejected(out, 'unwrap', s);
    expect((out.find((o) => o.kind === 'rejected') as { message: string }).message).toMatch(/small order/);
  });

  it('sealed to a key revoked before sealing: refused; sealed before the revocation: stored; also sealed to a key the force never issued: refused', async () => {
    const forceDir = path.join(dir, 'force');
    const before = await seal();
    const onlyKey = recipients[0]!;
    rotateRecipientKey(forceDir, { now: T0, overlapDays: 30, validityDays: 30 });
    clock.advance(1000);
    revokeRecipientKey(forceDir, { kid: onlyKey.kid, now: clock.now() });
    const after = await seal({ incident: 'inc-rev-1', to: [onlyKey] });
    expectRejected(await deliver(intake(), after), 'revoked_key', after);
    const outcomes = await deliver(intake(), before);
    expect(outcomes.some((o) => o.kind === 'stored'), JSON.stringify(outcomes)).toBe(true);
    const stranger = generateKeyPair('x25519');
    const fresh = validRecipients(loadKeySet(forceDir).keyset, clock.now());
    expect(fresh.map((r) => r.kid)).not.toContain(onlyKey.kid);
    const leaked = await seal({ incident: 'inc-rev-2', to: [...fresh, { kid: stranger.kid, pk: stranger.pk }] });
    expectRejected(await deliver(intake(), leaked), 'unknown_recipient', leaked);
    clock.set(T0);
  });

  it('the force config schema has the caps with defaults', () => {
    expect(Object.keys(ForceConfigSchema.properties.caps.properties)).toEqual(Object.keys(defaultCaps));
  });
});
