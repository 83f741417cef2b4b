import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeChunkMessage, sealEnvelope, type SealedEnvelope } from '../../../daemon/src/crypto/envelope.js';
import { sha256Hex } from '../../../daemon/src/crypto/encoding.js';
import { generateKeyPair, type KeyPairFile } from '../../../daemon/src/crypto/keys.js';
import { validRecipients } from '../../../daemon/src/crypto/keyset.js';
import { buildPackage, packageInputFromFolder } from '../../../daemon/src/evidence/builder.js';
import { DELETIONS_INCIDENT, DELETIONS_SCHEMA, encodeDeletionsPackage } from '../../../daemon/src/evidence/deletions-package.js';
import { decodeMastersPackage, encodeMastersPackage, MASTERS_SCHEMA, packageSchemaOf } from '../../../daemon/src/evidence/masters-package.js';
import type { ForceDb } from '../../../daemon/src/force/database.js';
import { DeletionReceiptsRepo } from '../../../daemon/src/force/db/deletion-receipts.js';
import { MasterClipsRepo } from '../../../daemon/src/force/db/master-clips.js';
import { type IntakeOutcome } from '../../../daemon/src/force/intake.js';
import { loadKeySet } from '../../../daemon/src/force/keys.js';
import type { MastersManifest } from '../../../daemon/src/protocol/schemas.js';
import { ManualClock } from '../../../daemon/src/util/clock.js';
import { makePackageFolder } from '../../helpers/evidence.js';
import { forceIntake, forceWithBox } from '../../helpers/force-intake.js';
import { tempDir } from '../../helpers/paths.js';

const T0 = Date.UTC(2026, 5, 1);
const caps = { max_envelope_bytes: 64 * 1024 * 1024, max_chunks: 4000, reassembly_timeout_s: 600, max_pending_per_device: 8, missing_after_s: 5 };

/**
 * Master clips at the force (`upload_masters`): one clip per envelope, sealed like evidence, its manifest
 * signed by the box; kept only when its SHA-256 is a clip of the incident's stored evidence manifest,
 * refused for good (with a signed `rejected` receipt) otherwise.
 */
describe('force intake of master clips', () => {
  let dir: string;
  let fdb: ForceDb;
  let device: KeyPairFile;
  let clip: Buffer;
  let seq = 0;
  const clock = new ManualClock(T0);
  const receipts: { status: string; envelope: string; reason?: string }[] = [];
  const intake = () => forceIntake(path.join(dir, 'force'), fdb, clock, caps, async (_d, p) => void receipts.push((JSON.parse(p) as { receipt: { status: string; envelope: string; reason?: string } }).receipt));

  const seal = (plaintext: Buffer, incidentId = 'inc-1'): Promise<SealedEnvelope> =>
    sealEnvelope({ plaintext, device, deviceId: 'box-1', incidentId, msgSeq: ++seq, recipients: validRecipients(loadKeySet(path.join(dir, 'force')).keyset, T0), clock: { synced: true, offset_ms: 0 }, now: clock.now(), chunkBytes: 65536 });

  async function deliver(e: SealedEnvelope): Promise<IntakeOutcome[]> {
    const i = intake();
    const base = `hindsight/v1/box-1/ev/${e.manifest.header.envelope_id}`;
    const out = [await i.handle(`${base}/m`, Buffer.from(JSON.stringify(e.manifest)))];
    for (const [idx, c] of e.chunks.entries()) out.push(await i.handle(`${base}/${idx}`, encodeChunkMessage(e.manifest.header.envelope_id, idx, e.chunks.length, c)));
    return out;
  }

  const masters = (o: Partial<MastersManifest> = {}, bytes = clip, key = device): Buffer =>
    encodeMastersPackage({ v: 1, schema: MASTERS_SCHEMA, incident_id: 'inc-1', device_id: 'box-1', created_at: T0, camera: 'cam1', name: 'cam1.ts', sha256: sha256Hex(bytes), bytes: bytes.length, media_type: 'video/mp2t', ...o }, bytes, key);

  beforeAll(async () => {
    dir = tempDir('hs-masters-');
    ({ fdb, device } = forceWithBox(path.join(dir, 'force'), clock, T0));
    const pkg = await makePackageFolder(path.join(dir, 'pkg'), { subjects: 1 });
    clip = readFileSync(path.join(pkg.dir, 'clips', 'cam1.ts'));
    const evidence = buildPackage(packageInputFromFolder(pkg.dir, { incidentId: 'inc-1', deviceId: 'box-1', store: 'Shop', window: { start: T0 - 90_000, end: T0 }, embeddingModel: 'm', models: [], tools: {}, clock: { synced: true, offset_ms: 0, source: 'unknown' }, now: T0 }), device).plaintext;
    expect((await deliver(await seal(evidence))).some((o) => o.kind === 'stored')).toBe(true);
  });

  it('the package: told apart from evidence before it is trusted; the device signature, the ids and the clip hash are checked', () => {
    const pt = masters();
    expect(packageSchemaOf(pt)).toBe(MASTERS_SCHEMA);
    expect(packageSchemaOf(Buffer.from('junk'))).toBeUndefined();
    expect(decodeMastersPackage(pt, device.pk, { deviceId: 'box-1', incidentId: 'inc-1' }).clip.equals(clip)).toBe(true);
    expect(() => decodeMastersPackage(pt, generateKeyPair('ed25519').pk, { deviceId: 'box-1', incidentId: 'inc-1' })).toThrow(/signature does not verify/);
    expect(() => decodeMastersPackage(pt, device.pk, { deviceId: 'box-1', incidentId: 'inc-2' })).toThrow(/another device or incident/);
    const flipped = Buffer.from(pt);
    flipped[flipped.length - 1]! ^= 1;
    expect(() => decodeMastersPackage(flipped, device.pk, { deviceId: 'box-1', incidentId: 'inc-1' })).toThrow(/does not match its SHA-256/);
    expect(() => decodeMastersPackage(pt.subarray(0, pt.length - 10), device.pk, { deviceId: 'box-1', incidentId: 'inc-1' })).toThrow(/bytes, its manifest says/);
    // the box refuses to package a clip that is not the one it names
    expect(() => masters({ sha256: '0'.repeat(64) })).toThrow(/changed while packaging/);
  });

  it('a clip the evidence manifest names is kept once, hashes equal, audited, with a complete receipt; asked for twice it is not written again', async () => {
    const e = await seal(masters());
    const out = await deliver(e);
    expect(out.some((o) => o.kind === 'stored')).toBe(true);
    expect(receipts.at(-1)).toMatchObject({ status: 'complete', envelope: e.manifest.header.envelope_id });
    const kept = new MasterClipsRepo(fdb.db).ofIncident('box-1', 'inc-1');
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatchObject({ camera: 'cam1', sha256: sha256Hex(clip), bytes: clip.length });
    expect(createHash('sha256').update(readFileSync(kept[0]!.path)).digest('hex')).toBe(sha256Hex(clip));
    expect(fdb.audit.find({ action: 'evidence.master_received' })).toHaveLength(1);

    const again = await seal(masters());
    expect((await deliver(again)).some((o) => o.kind === 'stored')).toBe(true);
    const both = new MasterClipsRepo(fdb.db).ofIncident('box-1', 'inc-1');
    expect(both).toHaveLength(2);
    expect(both[1]!.path).toBe(both[0]!.path);
    expect(readdirSync(path.dirname(both[0]!.path))).toEqual([path.basename(both[0]!.path)]);
    expect(fdb.audit.verify().ok).toBe(true);
  });

  it('a clip the evidence does not name, or of an incident the force does not hold, or signed by another key: refused for good with a signed rejected receipt, nothing kept', async () => {
    const before = new MasterClipsRepo(fdb.db).ofIncident('box-1', 'inc-1').length;
    const cases: [Buffer, string, string][] = [
      [masters({}, randomBytes(5000)), 'inc-1', 'master_unknown'],
      [masters({ camera: 'cam2' }), 'inc-1', 'master_unknown'],
      [masters({ incident_id: 'inc-9' }), 'inc-9', 'no_evidence'],
      [masters({}, clip, generateKeyPair('ed25519')), 'inc-1', 'bad_signature'],
    ];
    for (const [pt, incident, reason] of cases) {
      const e = await seal(pt, incident);
      const out = await deliver(e);
      expect(out.find((o) => o.kind === 'rejected'), reason).toMatchObject({ reason });
      expect(receipts.at(-1)).toMatchObject({ status: 'rejected', envelope: e.manifest.header.envelope_id });
      expect(receipts.at(-1)!.reason).toMatch(new RegExp(`^${reason}: `));
    }
    expect(new MasterClipsRepo(fdb.db).ofIncident('box-1', 'inc-1')).toHaveLength(before);
    expect(existsSync(path.join(dir, 'force', 'store', 'box-1', 'inc-9'))).toBe(false);
  });

  it('deletion reports: kept row by row, each once however often they come; a forged or foreign one is refused for good', async () => {
    const rows = [
      { seq: 41, id: 'a41', ts_utc: T0, action: 'buffer.deleted', object_ids: ['cam1'], sha256s: [], detail: { segments: 3, bytes: 900 }, hash: 'a'.repeat(64) },
      { seq: 42, id: 'a42', ts_utc: T0 + 1, action: 'evidence.erased', object_ids: ['inc-1'], sha256s: ['b'.repeat(64)], detail: { what: 'master clips' }, hash: 'c'.repeat(64) },
    ];
    const report = (r = rows, key = device, deviceId = 'box-1') => encodeDeletionsPackage({ v: 1, schema: DELETIONS_SCHEMA, device_id: deviceId, created_at: T0, rows: r }, key);
    const count = () => (fdb.db.prepare("SELECT COUNT(*) AS n FROM deletion_receipts WHERE device_id = 'box-1'").get() as { n: number }).n;
    expect((await deliver(await seal(report(), DELETIONS_INCIDENT))).some((o) => o.kind === 'stored')).toBe(true);
    expect(count()).toBe(2);
    expect(new DeletionReceiptsRepo(fdb.db).list('box-1', 10, 'inc-1').map((r) => [r.seq, r.action, r.sha256s])).toEqual([[42, 'evidence.erased', ['b'.repeat(64)]]]);
    // the same rows again (a report resent after a lost receipt) and one more: only the new row is added
    expect((await deliver(await seal(report([...rows, { ...rows[0]!, seq: 43, id: 'a43' }]), DELETIONS_INCIDENT))).some((o) => o.kind === 'stored')).toBe(true);
    expect(count()).toBe(3);
    expect(fdb.audit.find({ action: 'box.deletions_received' }).map((r) => r.detail.new)).toEqual([2, 1]);

    for (const [pt, reason] of [
      [report(rows, generateKeyPair('ed25519')), 'bad_signature'],
      [report(rows, device, 'box-2'), 'mismatch'],
      [Buffer.concat([report(), Buffer.from('x')]), 'trailing'],
    ] as const) {
      const e = await seal(pt, DELETIONS_INCIDENT);
      expect((await deliver(e)).find((o) => o.kind === 'rejected'), reason).toMatchObject({ reason });
      expect(receipts.at(-1)).toMatchObject({ status: 'rejected', envelope: e.manifest.header.envelope_id });
    }
    expect(count()).toBe(3);
  });
});
