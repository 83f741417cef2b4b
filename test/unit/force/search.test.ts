import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openForceDb } from '../../../daemon/src/force/database.js';
import { cosine, searchSubjects } from '../../../daemon/src/force/search.js';
import { runCli } from '../../helpers/cli.js';
import { makePackageFolder } from '../../helpers/evidence.js';
import { ForceStoreBuilder } from '../../helpers/force-intake.js';
import { tempDir } from '../../helpers/paths.js';

const DIM = 128;
function gaussian(): number {
  return Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
}
const randomVec = (): Float32Array => Float32Array.from({ length: DIM }, gaussian);
const near = (base: Float32Array, noise: number): Float32Array => base.map((x) => x + noise * gaussian());

describe('force search: ranking stored subjects across incidents by cosine similarity', () => {
  let dir: string;
  let force: ForceStoreBuilder;
  const person = randomVec();

  beforeAll(async () => {
    dir = tempDir('hs-search-');
    force = new ForceStoreBuilder(dir);
    const crops = (await makePackageFolder(path.join(dir, 'crops'), { subjects: 1, crops: 1 })).workingFiles.filter((f) => f.endsWith('.jpg'));
    // Five incidents in five stores; in each, the same person (noisy embedding) and two strangers.
    for (let i = 0; i < 5; i++) {
      await force.addIncident(`store-box-${i}`, `Store ${i}`, `inc-${i}`, [randomVec(), near(person, 0.35), randomVec()].map((embedding) => ({ crops, embedding })));
    }
  });
  afterAll(() => force?.close());

  it('another sample of the same person ranks that person first in all five stores', () => {
    // untriaged incidents are never searched: nothing until an officer accepts them
    expect(searchSubjects(force.fdb.db, near(person, 0.35), { top: 10, model: 'test-model' })).toEqual([]);
    force.acceptAll();
    const hits = searchSubjects(force.fdb.db, near(person, 0.35), { top: 10, model: 'test-model' });
    expect(hits).toHaveLength(10);
    expect(hits.slice(0, 5).map((h) => h.subjectId)).toEqual(Array(5).fill('s1'));
    expect(new Set(hits.slice(0, 5).map((h) => h.store)).size).toBe(5);
    expect(hits[4]!.score).toBeGreaterThan(hits[5]!.score);
    expect(hits[0]!.crop).toMatch(/crop_s1_0\.jpg$/);
    expect(searchSubjects(force.fdb.db, person, { top: 3, model: 'another-model' })).toEqual([]);
    expect(cosine(person, person)).toBeCloseTo(1, 6);
  });

  it('`hindsight force search --embedding` prints incident, store, camera, time, score and crop, and audits the search', async () => {
    const probe = near(person, 0.35);
    const file = path.join(dir, 'probe.f32');
    writeFileSync(file, Buffer.from(probe.buffer));
    const config = path.join(force.forceDir, 'force.yaml');
    const r = await runCli(['force', 'search', '--embedding', file, '--top', '5', '--reason', 'linking shop thefts, ref 42', '--config', config]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^score\s+incident\s+store\s+camera\s+time\s+subject\s+crop$/);
    expect(lines.slice(1).every((l) => /\ss1\s/.test(l))).toBe(true);
    const img = await runCli(['force', 'search', '--image', file, '--reason', 'linking shop thefts, ref 42', '--config', config]);
    expect(img.code).toBe(1);
    expect(img.stderr).toMatch(/cannot read the probe photo/); // not an image: a clear error, no crash
    const fdb = openForceDb(force.forceDir);
    expect(fdb.audit.find({ action: 'evidence.searched' })[0]?.justification).toBe('linking shop thefts, ref 42');
    fdb.close();
  });
});
