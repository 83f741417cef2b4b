import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../daemon/src/audit/log.js';
import { generateKeyPair, readKeyFile } from '../../../daemon/src/crypto/keys.js';
import { buildPackage, packageInputFromFolder } from '../../../daemon/src/evidence/builder.js';
import { decodePackage } from '../../../daemon/src/evidence/package.js';
import { openForceDb } from '../../../daemon/src/force/database.js';
import { enrollDevice } from '../../../daemon/src/force/enroll.js';
import { forceKeygen, loadReceiptKey } from '../../../daemon/src/force/keys.js';
import { signReceipt } from '../../../daemon/src/force/receipts.js';
import { silentLogger } from '../../../daemon/src/log/logger.js';
import { openDatabase, type Db } from '../../../daemon/src/db/db.js';
import { installBundle, KeySetStore, readBundle, uplinkFiles } from '../../../daemon/src/uplink/enrollment.js';
import { Outbox, OutboxFullError } from '../../../daemon/src/uplink/outbox.js';
import { ReceiptHandler } from '../../../daemon/src/uplink/receipts.js';
import { EvidenceSealer } from '../../../daemon/src/uplink/sealer.js';
import { ManualClock } from '../../../daemon/src/util/clock.js';
import { UNKNOWN_CLOCK } from '../../../daemon/src/util/clock-sync.js';
import { makePackageFolder } from '../../helpers/evidence.js';
import { tempDir } from '../../helpers/paths.js';

const T0 = Date.UTC(2026, 5, 1);

describe('box outbox, sealing and receipts', () => {
  let dir: string;
  let db: Db;
  let audit: AuditLog;
  let outbox: Outbox;
  let sealer: EvidenceSealer;
  let handler: ReceiptHandler;
  let pkgDir: string;
  const clock = new ManualClock(T0);

  const input = (incidentId: string) => packageInputFromFolder(pkgDir, { incidentId, deviceId: 'box-1', store: 'Shop', window: { start: T0 - 90_000, end: T0 }, embeddingModel: 'm', models: [], tools: {}, clock: UNKNOWN_CLOCK, now: clock.now() });

  async function queue(incidentId: string): Promise<string> {
    const s = await sealer.seal(buildPackage(input(incidentId), readKeyFile(uplinkFiles(path.join(dir, 'box')).deviceKey)).plaintext, incidentId);
    db.transaction(() => outbox.enqueue(s))();
    return s.manifest.header.envelope_id;
  }

  beforeAll(async () => {
    dir = tempDir('hs-outbox-');
    const forceDir = path.join(dir, 'force');
    forceKeygen(forceDir, { now: T0, validityDays: 30 });
    const fdb = openForceDb(forceDir);
    const { file } = enrollDevice({ dir: forceDir, deviceId: 'box-1', store: 'Shop', brokerUrl: 'mqtts://127.0.0.1:1', caPem: 'x', prefix: 'hindsight/v1', now: T0, db: fdb.db, audit: fdb.audit });
    fdb.close();
    db = openDatabase(path.join(dir, 'box', 'hindsight.db'));
    audit = new AuditLog(db, clock);
    installBundle(readBundle(file), { stateDir: path.join(dir, 'box'), deviceId: 'box-1', db, audit, clock });
    outbox = new Outbox(db, audit, clock, { maxBytes: 400_000, maxAgeMs: 30 * 86_400_000 });
    sealer = new EvidenceSealer('box-1', readKeyFile(uplinkFiles(path.join(dir, 'box')).deviceKey), new KeySetStore(db), outbox, clock, () => UNKNOWN_CLOCK, 65536);
    handler = new ReceiptHandler(db, outbox, new KeySetStore(db), 'box-1', clock, audit, silentLogger);
    pkgDir = (await makePackageFolder(path.join(dir, 'pkg'), { subjects: 1, padBytes: 100_000 })).dir;
  });

  it('the outbox holds ciphertext only and msg_seq increases', async () => {
    const a = await queue('inc-a');
    const b = await queue('inc-b');
    const rows = db.prepare('SELECT envelope_id, msg_seq FROM outbox ORDER BY msg_seq').all() as { envelope_id: string; msg_seq: number }[];
    expect(rows.map((r) => r.envelope_id)).toEqual([a, b]);
    expect(rows[1]!.msg_seq).toBeGreaterThan(rows[0]!.msg_seq);
    const blob = Buffer.concat((db.prepare('SELECT data FROM outbox_chunks ORDER BY envelope_id, idx').all() as { data: Buffer }[]).map((r) => r.data));
    expect(blob.includes(Buffer.from('"incident_id":"inc-a"'))).toBe(false);
    expect(blob.includes(Buffer.from('crop_s0_0.jpg'))).toBe(false);
  });

  it('forged receipts are ignored and audited as denied; a genuine complete one delivers inside one transaction with the hook', async () => {
    const id = await queue('inc-c');
    const bodySha = outbox.get(id)!.bodySha256;
    const forger = generateKeyPair('ed25519');
    const forged = signReceipt(forger, { envelope: id, device_id: 'box-1', body_sha256: bodySha, status: 'complete', missing: [], ts: T0 });
    expect(handler.handle(Buffer.from(JSON.stringify(forged))).outcome).toBe('rejected');
    const realKey = loadReceiptKey(path.join(dir, 'force'));
    const stolenKid = { ...forged, receipt: { ...forged.receipt, kid: realKey.kid } };
    expect(handler.handle(Buffer.from(JSON.stringify(stolenKid))).outcome).toBe('rejected');
    const otherBox = signReceipt(realKey, { envelope: id, device_id: 'box-2', body_sha256: bodySha, status: 'complete', missing: [], ts: T0 });
    expect(handler.handle(Buffer.from(JSON.stringify(otherBox))).outcome).toBe('rejected');
    expect(handler.handle(Buffer.from('not json')).outcome).toBe('rejected');
    const wrongBody = signReceipt(realKey, { envelope: id, device_id: 'box-1', body_sha256: '0'.repeat(64), status: 'complete', missing: [], ts: T0 });
    expect(handler.handle(Buffer.from(JSON.stringify(wrongBody))).outcome).toBe('rejected');
    expect(outbox.get(id)!.state).toBe('pending');
    expect(audit.find({ action: 'receipt.rejected' }).every((r) => r.result === 'denied')).toBe(true);
    expect(audit.find({ action: 'receipt.rejected' }).length).toBe(4);

    const missing = signReceipt(realKey, { envelope: id, device_id: 'box-1', body_sha256: bodySha, status: 'missing', missing: [0, 0, 99], ts: T0 });
    expect(handler.handle(Buffer.from(JSON.stringify(missing))).outcome).toBe('resend');
    expect(outbox.get(id)!.resend).toEqual([0]);

    const seen: boolean[] = [];
    const off = outbox.onDelivered((info) => {
      seen.push(db.inTransaction && info.incidentId === 'inc-c');
      db.prepare("INSERT INTO meta (key, value) VALUES ('hook', 'ran')").run();
    });
    const ok = signReceipt(realKey, { envelope: id, device_id: 'box-1', body_sha256: bodySha, status: 'complete', missing: [], ts: T0 });
    expect(handler.handle(Buffer.from(JSON.stringify(ok))).outcome).toBe('delivered');
    expect(handler.handle(Buffer.from(JSON.stringify(ok))).outcome).toBe('duplicate');
    off();
    expect(seen).toEqual([true]);
    expect(outbox.get(id)!.state).toBe('delivered');
    expect((db.prepare('SELECT COUNT(*) AS n FROM outbox_chunks WHERE envelope_id = ?').get(id) as { n: number }).n).toBe(0);
    expect(audit.verify().ok).toBe(true);
  });

  it('a dead envelope: a genuine `rejected` receipt ends it (never sent again, ciphertext gone, audited with the reason, hook in the transaction); a forged one or one for another body changes nothing', async () => {
    const id = await queue('inc-dead');
    const bodySha = outbox.get(id)!.bodySha256;
    const realKey = loadReceiptKey(path.join(dir, 'force'));
    const forged = signReceipt(generateKeyPair('ed25519'), { envelope: id, device_id: 'box-1', body_sha256: bodySha, status: 'rejected', missing: [], reason: 'replay: x', ts: T0 });
    expect(handler.handle(Buffer.from(JSON.stringify(forged))).outcome).toBe('rejected');
    const otherBody = signReceipt(realKey, { envelope: id, device_id: 'box-1', body_sha256: 'f'.repeat(64), status: 'rejected', missing: [], reason: 'replay: x', ts: T0 });
    expect(handler.handle(Buffer.from(JSON.stringify(otherBody))).outcome).toBe('rejected');
    expect(outbox.get(id)!.state).toBe('pending');

    const seen: unknown[] = [];
    const off = outbox.onRejected((info) => seen.push({ inTx: db.inTransaction, ...info }));
    const dead = signReceipt(realKey, { envelope: id, device_id: 'box-1', body_sha256: bodySha, status: 'rejected', missing: [], reason: 'revoked_key: sealed to a revoked key', ts: T0 });
    expect(handler.handle(Buffer.from(JSON.stringify(dead)))).toMatchObject({ outcome: 'dead', reason: 'revoked_key: sealed to a revoked key' });
    expect(handler.handle(Buffer.from(JSON.stringify(dead))).outcome).toBe('duplicate');
    off();
    expect(seen).toEqual([{ inTx: true, envelopeId: id, incidentId: 'inc-dead', kind: 'evidence', reason: 'revoked_key: sealed to a revoked key' }]);
    expect(outbox.get(id)).toMatchObject({ state: 'rejected', rejectedReason: 'revoked_key: sealed to a revoked key' });
    expect((db.prepare('SELECT COUNT(*) AS n FROM outbox_chunks WHERE envelope_id = ?').get(id) as { n: number }).n).toBe(0);
    // not due again, not counted as waiting
    expect(outbox.nextDue(Number.MAX_SAFE_INTEGER)?.envelopeId).not.toBe(id);
    expect(audit.find({ action: 'evidence.rejected_by_force' }).map((r) => r.detail)).toEqual([expect.objectContaining({ reason: 'revoked_key: sealed to a revoked key', kind: 'evidence' })]);
    expect(audit.verify().ok).toBe(true);
  });

  it('refuses new evidence loudly when full (bytes, then age) and never drops what is queued', async () => {
    const before = outbox.stats();
    const tight = new Outbox(db, audit, clock, { maxBytes: before.bytes + 1000, maxAgeMs: 30 * 86_400_000 });
    const sealed = await sealer.seal(buildPackage(input('inc-full'), readKeyFile(uplinkFiles(path.join(dir, 'box')).deviceKey)).plaintext, 'inc-full');
    expect(() => db.transaction(() => tight.enqueue(sealed))()).toThrow(OutboxFullError);
    expect(() => tight.checkCapacity(2000)).toThrow(/would exceed its limit/);
    expect(outbox.stats()).toEqual(before);
    const roomy = new Outbox(db, audit, clock, { maxBytes: 1e9, maxAgeMs: 86_400_000 });
    clock.advance(2 * 86_400_000);
    expect(() => roomy.checkCapacity(1)).toThrow(/waited 2 days/);
    clock.set(T0);
    expect(outbox.stats().pending).toBe(before.pending);
  });

  it('an expired force key set: the box refuses to seal', async () => {
    clock.advance(40 * 86_400_000);
    await expect(sealer.seal(Buffer.from('x'), 'inc-late')).rejects.toThrow(/expired/);
    clock.set(T0);
  });

  it('packages: symlinks are refused; a changed file or unsafe name fails decoding', async () => {
    const evil = path.join(dir, 'evil');
    mkdirSync(path.join(evil, 'crops', 's1'), { recursive: true });
    writeFileSync(path.join(dir, 'secret.jpg'), 'not for the force');
    symlinkSync(path.join(dir, 'secret.jpg'), path.join(evil, 'crops', 's1', '0.jpg'));
    const key = readKeyFile(uplinkFiles(path.join(dir, 'box')).deviceKey);
    expect(() => buildPackage(packageInputFromFolder(evil, { ...input('inc-x'), incidentId: 'inc-x' }), key)).toThrow(/symlinks are refused/);
    const pt = buildPackage(input('inc-y'), key).plaintext;
    const flipped = Buffer.from(pt);
    flipped[flipped.length - 1]! ^= 1;
    expect(() => decodePackage(flipped, key.pk, { deviceId: 'box-1', incidentId: 'inc-y' })).toThrow(/does not match its SHA-256/);
    expect(() => decodePackage(pt, key.pk, { deviceId: 'box-1', incidentId: 'inc-z' })).toThrow(/another device or incident/);
    expect(() => decodePackage(pt, generateKeyPair('ed25519').pk, { deviceId: 'box-1', incidentId: 'inc-y' })).toThrow(/signature/);
    expect(decodePackage(pt, key.pk, { deviceId: 'box-1', incidentId: 'inc-y' }).files.size).toBeGreaterThan(0);
  });
});
