import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeChunkMessage, sealEnvelope, type SealedEnvelope } from '../../../daemon/src/crypto/envelope.js';
import type { KeyPairFile } from '../../../daemon/src/crypto/keys.js';
import { validRecipients } from '../../../daemon/src/crypto/keyset.js';
import { buildPackage, packageInputFromFolder } from '../../../daemon/src/evidence/builder.js';
import { decodePackage, encodePackage, type PackageManifest } from '../../../daemon/src/evidence/package.js';
import type { ForceDb } from '../../../daemon/src/force/database.js';
import { EnvelopeIntake, type IntakeOutcome } from '../../../daemon/src/force/intake.js';
import { loadKeySet } from '../../../daemon/src/force/keys.js';
import { ManualClock } from '../../../daemon/src/util/clock.js';
import { makePackageFolder } from '../../helpers/evidence.js';
import { forceIntake, forceWithBox } from '../../helpers/force-intake.js';
import { tempDir } from '../../helpers/paths.js';

const P = 'hindsight/v1';
const T0 = Date.UTC(2026, 5, 1);

/**
 * Packages whose manifest the box signed validly but which are malformed: the force must refuse them whole
 * (a rejection row, an audit row, no plaintext left on disk), and one of them must not stop the others.
 */
describe('force intake: malformed signed packages', () => {
  let dir: string;
  let storeDir: string;
  let device: KeyPairFile;
  let good: { manifest: PackageManifest; files: Map<string, Buffer> };
  let fdb: ForceDb;
  let seq = 0;
  const clock = new ManualClock(T0);
  const receipts: string[] = [];
  /** The statuses of the receipts sent for each envelope. */
  const statuses = new Map<string, string[]>();

  function intake(): EnvelopeIntake {
    return forceIntake(path.join(dir, 'force'), fdb, clock, { max_envelope_bytes: 64 * 1024 * 1024, max_chunks: 1000, reassembly_timeout_s: 600, max_pending_per_device: 8, missing_after_s: 5 }, async (_d, payload) => {
      const r = (JSON.parse(payload) as { receipt: { envelope: string; status: string } }).receipt;
      statuses.set(r.envelope, [...(statuses.get(r.envelope) ?? []), r.status]);
      if (r.status === 'complete') receipts.push(r.envelope);
    });
  }

  /** A package with the manifest changed by `edit`, signed by the box's own key, sealed to the force. */
  function sealEdited(edit: (m: Record<string, unknown>) => void): Promise<SealedEnvelope> {
    const m = structuredClone(good.manifest) as unknown as Record<string, unknown>;
    edit(m);
    const plaintext = encodePackage(m as unknown as PackageManifest, good.files, device);
    return sealEnvelope({ plaintext, device, deviceId: 'box-1', incidentId: 'inc-1', msgSeq: ++seq, recipients: validRecipients(loadKeySet(path.join(dir, 'force')).keyset, T0), clock: { synced: true, offset_ms: 0 }, now: clock.now(), chunkBytes: 4096 });
  }

  const topic = (e: SealedEnvelope, suffix: string | number): string => `${P}/box-1/ev/${e.manifest.header.envelope_id}/${suffix}`;

  async function deliver(i: EnvelopeIntake, e: SealedEnvelope, upTo = e.chunks.length): Promise<IntakeOutcome[]> {
    const out = [await i.handle(topic(e, 'm'), Buffer.from(JSON.stringify(e.manifest)))];
    for (const [idx, ct] of e.chunks.slice(0, upTo).entries()) out.push(await i.handle(topic(e, idx), encodeChunkMessage(e.manifest.header.envelope_id, idx, e.manifest.n_chunks, ct)));
    return out;
  }

  /** Everything under the store folder (plaintext files, `.part` folders). */
  const storeFiles = (): string[] => (existsSync(storeDir) ? (readdirSync(storeDir, { recursive: true }) as string[]).filter((f) => /\.(jpg|f32|json|bin)$/.test(f)) : []);

  function expectRefused(e: SealedEnvelope, outcomes: IntakeOutcome[], reason: string, message: RegExp): void {
    const id = e.manifest.header.envelope_id;
    expect(outcomes.at(-1)).toMatchObject({ kind: 'rejected', reason, message: expect.stringMatching(message) });
    expect(fdb.db.prepare('SELECT state, reason FROM envelopes WHERE envelope_id = ?').get(id)).toEqual({ state: 'rejected', reason });
    expect(fdb.db.prepare('SELECT reason FROM rejections WHERE envelope_id = ? ORDER BY id DESC').get(id)).toEqual({ reason });
    expect(fdb.audit.find({ action: 'evidence.rejected', objectId: id }).map((r) => r.detail.reason)).toContain(reason);
    expect(fdb.db.prepare('SELECT COUNT(*) AS n FROM incidents WHERE envelope_id = ?').get(id)).toEqual({ n: 0 });
    expect(fdb.db.prepare('SELECT COUNT(*) AS n FROM chunks WHERE envelope_id = ?').get(id)).toEqual({ n: 0 });
    expect(receipts).not.toContain(id);
    // a package that does not verify is dead (the box is told, and stops); a store that failed is not
    expect(statuses.get(id) ?? []).toEqual(reason === 'store_failed' ? [] : ['rejected']);
  }

  beforeAll(async () => {
    dir = tempDir('hs-intake-bad-');
    storeDir = path.join(dir, 'force', 'store');
    ({ fdb, device } = forceWithBox(path.join(dir, 'force'), clock, T0));
    const pkg = await makePackageFolder(path.join(dir, 'pkg'), { subjects: 2, padBytes: 6_000 });
    const built = buildPackage(packageInputFromFolder(pkg.dir, { incidentId: 'inc-1', deviceId: 'box-1', store: 'Shop', window: { start: T0 - 90_000, end: T0 }, embeddingModel: 'm', models: [], tools: {}, clock: { synced: true, offset_ms: 0, source: 'unknown' }, now: T0 }), device);
    good = { manifest: built.manifest, files: decodePackage(built.plaintext, device.pk, { deviceId: 'box-1', incidentId: 'inc-1' }).files };
  });

  it('each malformed manifest is rejected with its reason and audited, and no decrypted file is left', async () => {
    const cases: [string, (m: Record<string, unknown>) => void, RegExp][] = [
      ['no window', (m) => (m.window = null), /window/],
      ['subjects not a list', (m) => (m.subjects = 'everyone'), /subjects/],
      ['an unknown field', (m) => (m.note = 'extra'), /note|additional/],
      ['a subject with an unknown field', (m) => ((m.subjects as Record<string, unknown>[])[0]!.age = 40), /subjects/],
      ['a fractional window', (m) => ((m.window as { start: number }).start = T0 - 0.5), /window/],
      ['a crop that is not in the package', (m) => ((m.subjects as { crops: string[] }[])[0]!.crops = ['crop_nobody_0.jpg']), /not a crop file/],
      ['an embedding row past the embeddings', (m) => ((m.subjects as { embedding_row: number }[])[1]!.embedding_row = 9), /beyond the 2 rows/],
      ['two subjects with one id', (m) => ((m.subjects as { id: string }[])[1]!.id = (m.subjects as { id: string }[])[0]!.id), /same id/],
    ];
    for (const [what, edit, message] of cases) {
      const e = await sealEdited(edit);
      const outcomes = await deliver(intake(), e);
      expectRefused(e, outcomes, 'manifest', message);
      expect(storeFiles(), what).toEqual([]);
    }
  });

  it('one bad envelope in a sweep does not stop the others, and is rejected there too', async () => {
    const i = intake();
    const bad = await sealEdited((m) => (m.window = null));
    const fine = await sealEdited(() => undefined);
    // both fully received, then left `opening` by a receiver that stopped
    for (const e of [bad, fine]) {
      await deliver(i, e, e.chunks.length - 1);
      fdb.db.prepare('INSERT INTO chunks (envelope_id, idx, data) VALUES (?, ?, ?)').run(e.manifest.header.envelope_id, e.chunks.length - 1, e.chunks.at(-1)!);
      fdb.db.prepare("UPDATE envelopes SET state = 'opening' WHERE envelope_id = ?").run(e.manifest.header.envelope_id);
    }
    clock.advance(120_000);
    await i.sweep();
    expect(fdb.db.prepare('SELECT state FROM envelopes WHERE envelope_id = ?').get(bad.manifest.header.envelope_id)).toEqual({ state: 'rejected' });
    expect(fdb.db.prepare('SELECT state FROM envelopes WHERE envelope_id = ?').get(fine.manifest.header.envelope_id)).toEqual({ state: 'stored' });
    expect(receipts).toContain(fine.manifest.header.envelope_id);
    expect(receipts).not.toContain(bad.manifest.header.envelope_id);
    expect(statuses.get(bad.manifest.header.envelope_id)).toEqual(['rejected']);
  });

  it('a store that fails part-way leaves no files, rejects with a reason, and the resent envelope is stored', async () => {
    const i = intake();
    const e = await sealEdited(() => undefined);
    const id = e.manifest.header.envelope_id;
    const before = storeFiles();
    fdb.db.exec("CREATE TEMP TRIGGER subjects_fail BEFORE INSERT ON subjects BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END");
    try {
      const outcomes = await deliver(i, e);
      expectRefused(e, outcomes, 'store_failed', /could not store the evidence: disk I\/O error/);
      expect(storeFiles()).toEqual(before);
    } finally {
      fdb.db.exec('DROP TRIGGER subjects_fail');
    }
    const again = await deliver(i, e);
    expect(again.at(-1)).toEqual({ kind: 'stored', envelopeId: id });
    expect(receipts).toContain(id);
  });
});
