import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadProbeEmbedder } from '../../../daemon/src/force/embedder.js';
import { searchSubjects } from '../../../daemon/src/force/search.js';
import { ForceStoreBuilder } from '../../helpers/force-intake.js';
import { REPO_ROOT, tempDir } from '../../helpers/paths.js';

/**
 * Issue acceptance check 4 with real faces: five incidents from five stores share one person; another
 * photo of that person ranks that person's subjects first. Photos are read from HINDSIGHT_FACES_DIR
 * (default ../shared/faces/dev beside the repository) and never copied into the project.
 */
const FACES_DIR = process.env.HINDSIGHT_FACES_DIR ?? path.join(REPO_ROOT, '..', 'shared', 'faces', 'dev');

function identities(): { id: string; photos: string[] }[] {
  if (!existsSync(FACES_DIR)) return [];
  return readdirSync(FACES_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('_'))
    .map((d) => ({ id: d.name, photos: readdirSync(path.join(FACES_DIR, d.name)).filter((f) => /\.jpe?g$/i.test(f)).sort().map((f) => path.join(FACES_DIR, d.name, f)) }));
}

describe('force search with the face embedder', () => {
  let force: ForceStoreBuilder | undefined;
  afterAll(() => force?.close());

  it('five incidents in five stores share one person: another photo of that person ranks them first', async (ctx) => {
    const all = identities();
    if (all.length === 0) {
      console.warn(`skipped: no face photos at ${FACES_DIR} (set HINDSIGHT_FACES_DIR)`);
      return ctx.skip();
    }
    const embedder = await loadProbeEmbedder();
    const person = all.find((i) => i.photos.length >= 6)!;
    const others = all.filter((i) => i.id !== person.id && i.photos.length >= 1).slice(0, 10);
    force = new ForceStoreBuilder(tempDir('hs-faces-search-'));
    for (let s = 0; s < 5; s++) {
      const strangers = [others[(2 * s) % others.length]!, others[(2 * s + 1) % others.length]!];
      const subjects = [];
      for (const photo of [person.photos[s]!, strangers[0]!.photos[0]!, strangers[1]!.photos[0]!]) subjects.push({ crops: [photo], embedding: await embedder.embedProbe(photo) });
      await force.addIncident(`store-${s}`, `Store ${s}`, `inc-faces-${s}`, subjects);
    }
    const probe = await embedder.embedProbe(person.photos[5]!);
    expect(searchSubjects(force.fdb.db, probe, { top: 10 }), 'untriaged incidents are never searched').toEqual([]);
    force.acceptAll();
    const hits = searchSubjects(force.fdb.db, probe, { top: 10 });
    expect(hits.slice(0, 5).map((h) => h.subjectId)).toEqual(Array(5).fill('s0'));
    expect(new Set(hits.slice(0, 5).map((h) => h.store)).size).toBe(5);
  });
});
