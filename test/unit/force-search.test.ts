import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeChunkMessage, sealEnvelope } from '../../daemon/src/crypto/envelope.js';
import { generateKeyPair } from '../../daemon/src/crypto/keys.js';
import { validRecipients } from '../../daemon/src/crypto/keyset.js';
import { buildPackage, packageInputFromFolder } from '../../daemon/src/evidence/builder.js';
import { openForceDb } from '../../daemon/src/force/db.js';
import { EnvelopeIntake } from '../../daemon/src/force/intake.js';
import { forceKeygen, loadKeySet, loadReceiptKey, loadRecipientKeys } from '../../daemon/src/force/keys.js';
import { DeviceRegistry } from '../../daemon/src/force/registry.js';
import { cosine, searchSubjects } from '../../daemon/src/force/search.js';
import { silentLogger } from '../../daemon/src/log/logger.js';
import { systemClock } from '../../daemon/src/util/clock.js';
import { runCli } from '../helpers/cli.js';
import { makePackageFolder } from '../helpers/evidence.js';
import { tempDir } from '../helpers/paths.js';

const DIM = 128;
function gaussian(): number {
  return Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
}
const randomVec = (): Float32Array => Float32Array.from({ length: DIM }, gaussian);
const near = (base: Float32Array, noise: number): Float32Array => base.map((x) => x + noise * gaussian());

describe('force search: ranking stored subjects across incidents by cosine similarity', () => {
  let dir: string;
  const person = randomVec();

  beforeAll(async () => {
    dir = tempDir('hs-search-');
    const forceDir = path.join(dir, 'force');
    forceKeygen(forceDir, { now: systemClock.now(), validityDays: 30 });
    const fdb = openForceDb(forceDir);
    const intake = new EnvelopeIntake({ db: fdb.db, audit: fdb.audit, storeDir: path.join(forceDir, 'store'), prefix: 'hindsight/v1', caps: { max_envelope_bytes: 1e8, max_chunks: 1e4, reassembly_timeout_s: 600, max_pending_per_device: 8, missing_after_s: 5 }, recipientKeys: () => loadRecipientKeys(forceDir), receiptKey: loadReceiptKey(forceDir), clock: systemClock, log: silentLogger, sendReceipt: async () => undefined });
    const registry = new DeviceRegistry(fdb.db);
    // Five incidents in five stores; in each, the same person (noisy embedding) and two strangers.
    for (let i = 0; i < 5; i++) {
      const deviceId = `store-box-${i}`;
      const key = generateKeyPair('ed25519');
      registry.enroll(deviceId, `Store ${i}`, systemClock.now());
      registry.register(deviceId, key.pk, systemClock.now());
      const pkg = await makePackageFolder(path.join(dir, `pkg${i}`), { subjects: 3, crops: 1, embeddings: [randomVec(), near(person, 0.35), randomVec()] });
      const now = systemClock.now();
      const pt = buildPackage(packageInputFromFolder(pkg.dir, { incidentId: `inc-${i}`, deviceId, store: `Store ${i}`, window: { start: now - 90_000, end: now }, embeddingModel: 'test-model', models: [], tools: {}, clock: { synced: true, offset_ms: 0, source: 'unknown' }, now }), key).plaintext;
      const e = await sealEnvelope({ plaintext: pt, device: key, deviceId, incidentId: `inc-${i}`, msgSeq: 1, recipients: validRecipients(loadKeySet(forceDir).keyset, now), clock: { synced: true, offset_ms: 0 }, now });
      const base = `hindsight/v1/${deviceId}/ev/${e.manifest.header.envelope_id}`;
      await intake.handle(`${base}/m`, Buffer.from(JSON.stringify(e.manifest)));
      const outcomes = await Promise.all(e.chunks.map((c, idx) => intake.handle(`${base}/${idx}`, encodeChunkMessage(e.manifest.header.envelope_id, idx, e.chunks.length, c))));
      expect(outcomes.some((o) => o.kind === 'stored')).toBe(true);
    }
    fdb.close();
    writeFileSync(path.join(forceDir, 'force.yaml'), 'force: {dir: .}\nlog: {level: warn, pretty: false}\n');
  });

  it('another sample of the same person ranks that person first in all five stores', () => {
    const fdb = openForceDb(path.join(dir, 'force'));
    const hits = searchSubjects(fdb.db, near(person, 0.35), { top: 10, model: 'test-model' });
    fdb.close();
    expect(hits).toHaveLength(10);
    expect(hits.slice(0, 5).map((h) => h.subjectId)).toEqual(Array(5).fill('s1'));
    expect(new Set(hits.slice(0, 5).map((h) => h.store)).size).toBe(5);
    expect(hits[4]!.score).toBeGreaterThan(hits[5]!.score);
    expect(hits[0]!.crop).toMatch(/crop_s1_0\.jpg$/);
    expect(searchSubjects(openForceDb(path.join(dir, 'force')).db, person, { top: 3, model: 'another-model' })).toEqual([]);
    expect(cosine(person, person)).toBeCloseTo(1, 6);
  });

  it('`hindsight force search --embedding` prints incident, store, camera, time, score and crop, and audits the search', async () => {
    const probe = near(person, 0.35);
    const file = path.join(dir, 'probe.f32');
    writeFileSync(file, Buffer.from(probe.buffer));
    const r = await runCli(['force', 'search', '--embedding', file, '--top', '5', '--reason', 'linking shop thefts, ref 42', '--config', path.join(dir, 'force', 'force.yaml')]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^score\s+incident\s+store\s+camera\s+time\s+subject\s+crop$/);
    expect(lines.slice(1).every((l) => /\ss1\s/.test(l))).toBe(true);
    const img = await runCli(['force', 'search', '--image', file, '--config', path.join(dir, 'force', 'force.yaml')]);
    expect(img.code).toBe(1);
    expect(img.stderr).toMatch(/embedder is not available/);
    const fdb = openForceDb(path.join(dir, 'force'));
    expect(fdb.audit.find({ action: 'evidence.searched' })[0]?.justification).toBe('linking shop thefts, ref 42');
    fdb.close();
  });
});
