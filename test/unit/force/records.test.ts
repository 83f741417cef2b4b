import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeChunkMessage, sealEnvelope, type SealedEnvelope } from '../../../daemon/src/crypto/envelope.js';
import { generateKeyPair, type KeyPairFile } from '../../../daemon/src/crypto/keys.js';
import { validRecipients } from '../../../daemon/src/crypto/keyset.js';
import { buildPackage, packageInputFromFolder } from '../../../daemon/src/evidence/builder.js';
import { decodePackage, encodePackage, type PackageManifest } from '../../../daemon/src/evidence/package.js';
import type { ForceDb } from '../../../daemon/src/force/database.js';
import type { EnvelopeIntake, IntakeOutcome } from '../../../daemon/src/force/intake.js';
import { loadKeySet, loadRecipientKeys } from '../../../daemon/src/force/keys.js';
import { extractPackage, listIncidents, openEnvelopeDir, reverify } from '../../../daemon/src/force/open.js';
import { DeviceRegistry } from '../../../daemon/src/force/registry.js';
import { sha256Hex } from '../../../daemon/src/crypto/encoding.js';
import { FORCE_MIGRATIONS } from '../../../daemon/src/force/db/migrations.js';
import { openDatabase } from '../../../daemon/src/db/db.js';
import { ManualClock } from '../../../daemon/src/util/clock.js';
import { runCli } from '../../helpers/cli.js';
import { makePackageFolder } from '../../helpers/evidence.js';
import { forceIntake, forceWithBox } from '../../helpers/force-intake.js';
import { tempDir } from '../../helpers/paths.js';

const P = 'hindsight/v1';
const T0 = Date.UTC(2026, 5, 1);

/** What the force records and confirms: receipts for the stored body only, its own store name, the signing key of each incident. */
describe('force records and receipts', () => {
  let dir: string;
  let forceDir: string;
  let device: KeyPairFile;
  let fdb: ForceDb;
  let pkgDir: string;
  let seq = 0;
  const clock = new ManualClock(T0);
  const receipts: { envelope: string; status: string; body_sha256: string }[] = [];

  const intake = (): EnvelopeIntake =>
    forceIntake(forceDir, fdb, clock, { max_envelope_bytes: 64 * 1024 * 1024, max_chunks: 1000, reassembly_timeout_s: 600, max_pending_per_device: 8, missing_after_s: 5 }, async (_d, payload) => {
      receipts.push((JSON.parse(payload) as { receipt: (typeof receipts)[number] }).receipt);
    });

  function plaintext(o: { store?: string; signer?: KeyPairFile; incident?: string } = {}): Buffer {
    return buildPackage(
      packageInputFromFolder(pkgDir, { incidentId: o.incident ?? 'inc-1', deviceId: 'box-1', store: o.store ?? 'Shop', window: { start: T0 - 90_000, end: T0 + seq }, embeddingModel: 'm', models: [], tools: {}, clock: { synced: true, offset_ms: 0, source: 'unknown' }, now: T0 }),
      o.signer ?? device,
    ).plaintext;
  }

  const seal = (pt: Buffer, o: { signer?: KeyPairFile; envelopeId?: string; incident?: string } = {}): Promise<SealedEnvelope> =>
    sealEnvelope({ plaintext: pt, device: o.signer ?? device, deviceId: 'box-1', incidentId: o.incident ?? 'inc-1', msgSeq: ++seq, recipients: validRecipients(loadKeySet(forceDir).keyset, T0), clock: { synced: true, offset_ms: 0 }, now: clock.now(), chunkBytes: 4096, envelopeId: o.envelopeId });

  async function deliver(i: EnvelopeIntake, e: SealedEnvelope, upTo = e.chunks.length): Promise<IntakeOutcome[]> {
    const base = `${P}/box-1/ev/${e.manifest.header.envelope_id}`;
    const out = [await i.handle(`${base}/m`, Buffer.from(JSON.stringify(e.manifest)))];
    for (const [idx, ct] of e.chunks.slice(0, upTo).entries()) out.push(await i.handle(`${base}/${idx}`, encodeChunkMessage(e.manifest.header.envelope_id, idx, e.manifest.n_chunks, ct)));
    return out;
  }

  beforeAll(async () => {
    dir = tempDir('hs-force-records-');
    forceDir = path.join(dir, 'force');
    ({ fdb, device } = forceWithBox(forceDir, clock, T0));
    pkgDir = (await makePackageFolder(path.join(dir, 'pkg'), { subjects: 1, padBytes: 6_000 })).dir;
  });

  it('a complete receipt names the stored body; another body under a known envelope id is rejected as body_mismatch', async () => {
    const i = intake();
    const first = await seal(plaintext());
    const id = first.manifest.header.envelope_id;
    expect((await deliver(i, first)).at(-1)).toEqual({ kind: 'stored', envelopeId: id });
    const other = await seal(plaintext(), { envelopeId: id });
    expect(other.manifest.body_sha256).not.toBe(first.manifest.body_sha256);
    expect(await i.handle(`${P}/box-1/ev/${id}/m`, Buffer.from(JSON.stringify(other.manifest)))).toMatchObject({ kind: 'rejected', reason: 'body_mismatch' });
    await deliver(i, first, 0); // the box asks again for the one it sent
    const mine = receipts.filter((r) => r.envelope === id);
    expect(mine.length).toBe(2);
    for (const r of mine) expect(r).toMatchObject({ status: 'complete', body_sha256: first.manifest.body_sha256 });
    expect(fdb.db.prepare("SELECT reason FROM rejections WHERE envelope_id = ? AND reason = 'body_mismatch'").all(id)).toHaveLength(1);

    // the same while the first body is still arriving
    const partial = await seal(plaintext());
    await deliver(i, partial, 1);
    const swap = await seal(plaintext(), { envelopeId: partial.manifest.header.envelope_id });
    expect(await i.handle(`${P}/box-1/ev/${partial.manifest.header.envelope_id}/m`, Buffer.from(JSON.stringify(swap.manifest)))).toMatchObject({ kind: 'rejected', reason: 'body_mismatch' });
    expect((await deliver(i, partial)).at(-1)).toMatchObject({ kind: 'stored' });
  });

  it("the store name comes from the force's registry, not from the package", async () => {
    const e = await seal(plaintext({ store: 'Somebody Else Ltd' }));
    await deliver(intake(), e);
    const id = e.manifest.header.envelope_id;
    expect(fdb.db.prepare('SELECT store, signer_kid FROM incidents WHERE envelope_id = ?').get(id)).toEqual({ store: 'Shop', signer_kid: device.kid });
    expect(fdb.audit.find({ action: 'evidence.received', objectId: id })[0]?.detail).toMatchObject({ store: 'Shop', claimed_store: 'Somebody Else Ltd', signer_kid: device.kid });
  });

  it('a new box key needs --replace; the old key still verifies what it signed, and no longer signs new evidence', async () => {
    const registry = new DeviceRegistry(fdb.db);
    const before = listIncidents(fdb.db);
    const newKey = generateKeyPair('ed25519');
    expect(() => registry.register('box-1', newKey.pk, T0 + 1)).toThrow(/already has signing key .*refusing to replace/);
    expect(registry.register('box-1', device.pk, T0 + 1)).toEqual({ kid: device.kid, replaced: null });
    expect(registry.register('box-1', newKey.pk, T0 + 2, { replace: true })).toEqual({ kid: newKey.kid, replaced: device.kid });
    expect(registry.keyOf('box-1', device.kid)).toBe(device.pk);
    expect(registry.get('box-1')?.signingKid).toBe(newKey.kid);
    // evidence stored under the old key still verifies, offline and in the listing
    for (const row of before) expect(await reverify(fdb.db, row, loadRecipientKeys(forceDir))).toBe('ok');
    const i = intake();
    const old = await seal(plaintext());
    expect((await deliver(i, old))[0]).toMatchObject({ kind: 'rejected', reason: 'unknown_kid' });
    const fresh = await seal(plaintext({ signer: newKey }), { signer: newKey });
    expect((await deliver(i, fresh)).at(-1)).toMatchObject({ kind: 'stored' });
    expect(fdb.db.prepare('SELECT signer_kid FROM incidents WHERE envelope_id = ?').get(fresh.manifest.header.envelope_id)).toEqual({ signer_kid: newKey.kid });
  });

  it('the CLI: `force register` refuses another key without --replace', async () => {
    const other = generateKeyPair('ed25519');
    const current = new DeviceRegistry(fdb.db).get('box-1')!.signingKid!;
    const refused = await runCli(['force', 'register', '--dir', forceDir, '--device', 'box-1', '--key', other.pk]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`already has signing key ${current}`));
    expect(refused.stderr).toMatch(/--replace/);
    const replaced = await runCli(['force', 'register', '--dir', forceDir, '--device', 'box-1', '--key', other.pk, '--replace']);
    expect(replaced.code).toBe(0);
    expect(replaced.stdout).toContain(`signing key ${other.kid} registered (replaces ${current}`);
    expect(fdb.audit.find({ action: 'device.key_registered' }).at(-1)?.detail).toEqual({ kid: other.kid, replaced_kid: current });
  });

  it('`force open --out`: a package file named like the manifest cannot overwrite it', async () => {
    const m = structuredClone(decodePackage(plaintext(), device.pk, { deviceId: 'box-1', incidentId: 'inc-1' }).signed.manifest) as PackageManifest;
    const forged = Buffer.from('{"not": "the manifest"}\n');
    m.files.push({ name: 'package-manifest.json', kind: 'document', media_type: 'application/json', sha256: sha256Hex(forged), bytes: forged.length });
    const files = decodePackage(plaintext(), device.pk, { deviceId: 'box-1', incidentId: 'inc-1' }).files;
    files.set('package-manifest.json', forged);
    const pkg = decodePackage(encodePackage(m, files, device), device.pk, { deviceId: 'box-1', incidentId: 'inc-1' });
    const out = path.join(dir, 'opened');
    const written = extractPackage(pkg, out);
    expect(JSON.parse(readFileSync(path.join(out, 'package-manifest.json'), 'utf8'))).toEqual(pkg.signed);
    expect(readFileSync(path.join(out, 'files', 'package-manifest.json'))).toEqual(forged);
    expect(written.every((f) => f.startsWith(path.join(out, 'files') + path.sep))).toBe(true);
    // a stored envelope folder opens with the key that signed it, found by its kid
    const row = listIncidents(fdb.db)[0]!;
    expect((await openEnvelopeDir(row.dir, new DeviceRegistry(fdb.db).keyOf('box-1', row.signer_kid!)!, loadRecipientKeys(forceDir))).manifest.header.signer_kid).toBe(row.signer_kid);
  });

  it('a force database from before key history gets each registered key and each incident its signer', () => {
    const file = path.join(dir, 'old', 'force.db');
    const old = openDatabase(file, { migrations: FORCE_MIGRATIONS.filter((m) => m.version <= 3) });
    old.prepare("INSERT INTO devices (id, store, signing_pk, signing_kid, enrolled_utc, registered_utc) VALUES ('box-9', 'Old Shop', ?, ?, 1, 2)").run(device.pk, device.kid);
    old.prepare("INSERT INTO incidents (envelope_id, incident_id, device_id, store, window_start, window_end, received_utc, dir, manifest, verified) VALUES ('e9', 'i9', 'box-9', 'Old Shop', 0, 1, 3, '/x', '{}', '{}')").run();
    old.close();
    const now = openDatabase(file, { migrations: FORCE_MIGRATIONS });
    expect(now.prepare('SELECT device_id, kid, pk, registered_utc, replaced_utc FROM device_keys').all()).toEqual([{ device_id: 'box-9', kid: device.kid, pk: device.pk, registered_utc: 2, replaced_utc: null }]);
    expect(now.prepare('SELECT signer_kid FROM incidents').get()).toEqual({ signer_kid: device.kid });
    now.close();
  });
});
