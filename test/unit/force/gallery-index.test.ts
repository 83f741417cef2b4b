import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { GalleryRepo } from '../../../daemon/src/force/db/gallery.js';
import { openForceDb, type ForceDb } from '../../../daemon/src/force/database.js';
import { Gallery } from '../../../daemon/src/force/gallery.js';
import { createLogger } from '../../../daemon/src/log/logger.js';
import { systemClock } from '../../../daemon/src/util/clock.js';
import { unitVec } from '../../helpers/force-console.js';
import { REPO_ROOT, tempDir } from '../../helpers/paths.js';

const OFFICER = { type: 'cli' as const, id: 'officer-1' };
const MODEL = 'test-model';
const DIMS = 128;
const bytesOf = (v: Float32Array): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/** A float32 vector as IEEE half floats (round to nearest even), the way the index stores it. */
function halfBytes(v: Float32Array): Buffer {
  const out = Buffer.alloc(v.length * 2);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  v.forEach((x, i) => {
    f[0] = x;
    const b = u[0]!;
    const sign = (b >>> 16) & 0x8000;
    const exp = ((b >>> 23) & 0xff) - 127 + 15;
    let mant = b & 0x7fffff;
    let h: number;
    if (exp <= 0) {
      // subnormal half
      if (exp < -10) h = sign;
      else {
        mant |= 0x800000;
        const shift = 14 - exp;
        const half = mant >>> shift;
        const rest = mant & ((1 << shift) - 1);
        const mid = 1 << (shift - 1);
        h = sign | (half + (rest > mid || (rest === mid && half & 1) ? 1 : 0));
      }
    } else {
      const half = mant >>> 13;
      const rest = mant & 0x1fff;
      h = sign | ((exp << 10) + half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0));
    }
    out.writeUInt16LE(h, i * 2);
  });
  return out;
}

/** A gallery of `persons` persons with `perPerson` photos each, written straight into the database. */
function fill(fdb: ForceDb, persons: number, perPerson: number, first = 0): Map<string, Float32Array[]> {
  const repo = new GalleryRepo(fdb.db);
  const byPerson = new Map<string, Float32Array[]>();
  fdb.db.transaction(() => {
    for (let p = first; p < first + persons; p++) {
      const ref = `P-${p}`;
      const centre = unitVec(1000 + p, undefined, 0);
      const photos = Array.from({ length: perPerson }, (_, j) => unitVec(50_000 + p * 10 + j, centre, 0.05));
      repo.upsertPerson(ref, 1);
      photos.forEach((e, j) => repo.addPhoto({ photoId: `${ref}-${j}`, personRef: ref, file: `${j}.jpg`, sha256: 'x'.repeat(64), storedPath: `/nowhere/${ref}-${j}.jpg`, captured: '2024-01-01', source: 'test', model: MODEL, embedding: bytesOf(e), faceScore: 1, addedUtc: 1 }));
      byPerson.set(ref, photos);
    }
  })();
  return byPerson;
}

function logged(): { log: ReturnType<typeof createLogger>; lines: { msg: string }[] } {
  const lines: { msg: string }[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as { msg: string });
      done();
    },
  });
  return { log: createLogger({ level: 'info', pretty: false, destination }), lines };
}

describe('the gallery search index: a shortlist from an ANN index, scored exactly from the database', () => {
  let dir: string;
  let fdb: ForceDb;
  const opened: ForceDb[] = [];
  const indexDir = (): string => path.join(dir, 'gallery', 'index');
  const gallery = (db: ForceDb, minPhotos = 100, log?: ReturnType<typeof createLogger>): Gallery =>
    new Gallery({ db: db.db, audit: db.audit, clock: systemClock, photosDir: path.join(dir, 'gallery', 'photos'), index: { dir: indexDir(), minPhotos, shortlist: 100, expansion: 128, log } });
  const exact = (db: ForceDb): Gallery => new Gallery({ db: db.db, audit: db.audit, clock: systemClock, photosDir: path.join(dir, 'gallery', 'photos') });
  const open = (): ForceDb => {
    const f = openForceDb(dir);
    opened.push(f);
    return f;
  };
  const indexFile = (ext: string): string => path.join(indexDir(), readdirSync(indexDir()).find((n) => n.endsWith(ext))!);

  beforeEach(() => {
    dir = tempDir('hs-gindex-');
    fdb = open();
  });
  afterAll(() => {
    for (const f of opened) f.close();
  });

  it('finds the same persons with the same scores as exact search, and saves the index in the force folder', () => {
    const people = fill(fdb, 300, 3);
    const g = gallery(fdb);
    for (let p = 0; p < 300; p += 37) {
      const probe = unitVec(90_000 + p, people.get(`P-${p}`)![0], 0.05);
      const viaIndex = g.searchCounted(probe, MODEL, 10, 0.2);
      expect(viaIndex).toEqual(exact(fdb).searchCounted(probe, MODEL, 10, 0.2));
      expect(viaIndex.matches[0]!.personRef).toBe(`P-${p}`);
      expect(viaIndex.compared).toBe(900);
    }
    expect(readdirSync(indexDir()).sort().map((n) => path.extname(n))).toEqual(['.json', '.keys', '.usearch']);
    expect(g.search(unitVec(7, undefined, 0), 'another-model', 10, 0), 'only the same model is compared').toEqual([]);
  });

  it('is loaded at the next start, not built again, and caught up when another process changed the gallery', () => {
    const people = fill(fdb, 150, 1);
    gallery(fdb).loadIndex();
    // another process (no index of its own) adds a person and deletes one
    const other = open();
    fill(other, 1, 1, 500);
    exact(other).deletePerson('P-3', 'released', OFFICER);
    const { log, lines } = logged();
    const g = gallery(fdb, 100, log);
    g.loadIndex();
    expect(lines.map((l) => l.msg)).toEqual(['gallery index loaded', 'gallery index caught up with the database']);
    expect(g.search(unitVec(1500, undefined, 0), MODEL, 1, 0.2)[0]!.personRef, 'the person added elsewhere is found').toBe('P-500');
    expect(g.search(people.get('P-3')![0]!, MODEL, 10, 0.9), 'the person deleted elsewhere is not').toEqual([]);
  });

  it('a deleted person vanishes from search at once: in this process, in another instance, and from the index file', () => {
    const people = fill(fdb, 200, 2);
    const victim = people.get('P-42')!;
    const g = gallery(fdb);
    const second = open();
    const g2 = gallery(second);
    expect(g.search(victim[0]!, MODEL, 3, 0.3)[0]!.personRef).toBe('P-42');
    expect(g2.search(victim[1]!, MODEL, 3, 0.3)[0]!.personRef).toBe('P-42');
    expect(readFileSync(indexFile('.usearch')).includes(halfBytes(victim[0]!)), 'the saved index holds the embedding before the deletion').toBe(true);

    g.deletePerson('P-42', 'released without charge', OFFICER);
    expect(g.search(victim[0]!, MODEL, 10, 0.3).map((m) => m.personRef)).not.toContain('P-42');
    expect(g2.search(victim[1]!, MODEL, 10, 0.3).map((m) => m.personRef), 'the other instance, on its own connection').not.toContain('P-42');
    const file = readFileSync(indexFile('.usearch'));
    expect(victim.some((v) => file.includes(halfBytes(v))), 'no copy of the deleted embeddings in the index file').toBe(false);

    // and a deletion made by another process between two searches of this one
    execFileSync(process.execPath, ['--input-type=module', '-e', deleteScript(dir, 'P-77')], { cwd: REPO_ROOT, stdio: 'pipe' });
    expect(g.search(people.get('P-77')![0]!, MODEL, 10, 0.3).map((m) => m.personRef)).not.toContain('P-77');
    expect(g2.search(people.get('P-77')![1]!, MODEL, 10, 0.3).map((m) => m.personRef)).not.toContain('P-77');
  });

  it('a photo added after a deletion takes the freed slot: the index does not grow, and finds it', () => {
    fill(fdb, 120, 1);
    const g = gallery(fdb);
    g.loadIndex();
    const size = readFileSync(indexFile('.usearch')).length;
    g.deletePerson('P-5', 'released', OFFICER);
    const { log, lines } = logged();
    gallery(open(), 100, log).loadIndex();
    expect(lines.map((l) => l.msg), 'an index with a filled slot is loaded as it is').toEqual(['gallery index loaded']);
    fill(fdb, 1, 1, 900);
    g.loadIndex();
    expect(readFileSync(indexFile('.usearch')).length).toBe(size);
    expect(g.search(unitVec(1900, undefined, 0), MODEL, 1, 0.2)[0]!.personRef).toBe('P-900');
  });

  it.each([
    ['a truncated index file', () => truncateSync(indexFile('.usearch'), 300), /does not match its header/],
    ['an altered key list', () => writeFileSync(indexFile('.keys'), Buffer.alloc(readFileSync(indexFile('.keys')).length)), /does not match its header/],
    ['a header that is not JSON', () => writeFileSync(indexFile('.json'), '{"format": 1, "mod'), /not JSON/],
    ['a header of another model', () => rewriteHeader((h) => ({ ...h, model: 'other-model' })), /names the model "other-model"/],
    ['a header of another format', () => rewriteHeader((h) => ({ ...h, format: 99 })), /format 99/],
    ['a header of other dimensions', () => rewriteHeader((h) => ({ ...h, dimensions: 32 })), /32 dimensions, the gallery's embeddings 128/],
    ['no header', () => writeFileSync(indexFile('.json'), ''), /not JSON/],
  ])('%s is built again with a log line, and searches stay right', (_what, spoil, why) => {
    const people = fill(fdb, 150, 1);
    gallery(fdb).loadIndex();
    spoil();
    const { log, lines } = logged();
    const g = gallery(fdb, 100, log);
    const probe = people.get('P-9')![0]!;
    expect(g.searchCounted(probe, MODEL, 10, 0.2)).toEqual(exact(fdb).searchCounted(probe, MODEL, 10, 0.2));
    expect(lines.map((l) => l.msg)).toEqual([expect.stringMatching(why), 'gallery index built']);
    expect(lines[0]!.msg).toMatch(/building it again from the database$/);
    // and the rebuilt index is whole again
    const { log: log2, lines: lines2 } = logged();
    gallery(open(), 100, log2).loadIndex();
    expect(lines2.map((l) => l.msg)).toEqual(['gallery index loaded']);
  });

  it('below the configured size every photo is compared exactly and no index is kept; a gallery that shrinks below it loses its index', () => {
    fill(fdb, 99, 1);
    const g = gallery(fdb);
    expect(g.searchCounted(unitVec(1010, undefined, 0), MODEL, 10, 0.2).compared).toBe(99);
    expect(existsSync(indexDir())).toBe(false);
    fill(fdb, 2, 1, 200);
    g.loadIndex();
    expect(readdirSync(indexDir())).toHaveLength(3);
    g.deletePerson('P-200', 'released', OFFICER);
    g.deletePerson('P-201', 'released', OFFICER);
    expect(readdirSync(indexDir())).toEqual([]);
    expect(g.searchCounted(unitVec(1010, undefined, 0), MODEL, 10, 0.2).matches[0]!.personRef).toBe('P-10');
  });

  it('an index kept from the first photo on (no minimum) starts with the first photo, not before', () => {
    const g = gallery(fdb, 0);
    expect(g.searchCounted(unitVec(1001, undefined, 0), MODEL, 10, 0.2)).toEqual({ matches: [], compared: 0 });
    fill(fdb, 2, 1);
    expect(g.search(unitVec(1001, undefined, 0), MODEL, 10, 0.2).map((m) => m.personRef)).toEqual(['P-1']);
    expect(JSON.parse(readFileSync(indexFile('.json'), 'utf8'))).toMatchObject({ photos: 2, dimensions: DIMS });
  });

  it('a probe of other dimensions than the index is compared exactly (nothing of its size: no match)', () => {
    fill(fdb, 150, 1);
    expect(gallery(fdb).searchCounted(new Float32Array(32).fill(0.1), MODEL, 10, 0)).toEqual({ matches: [], compared: 0 });
  });

  function rewriteHeader(change: (h: Record<string, unknown>) => Record<string, unknown>): void {
    writeFileSync(indexFile('.json'), JSON.stringify(change(JSON.parse(readFileSync(indexFile('.json'), 'utf8')) as Record<string, unknown>)));
  }
});

/** A separate node process deleting a person through the built program's gallery (no index of its own). */
function deleteScript(forceDir: string, person: string): string {
  return `
    import { openForceDb } from './daemon/dist/force/database.js';
    import { Gallery } from './daemon/dist/force/gallery.js';
    import { systemClock } from './daemon/dist/util/clock.js';
    const fdb = openForceDb(${JSON.stringify(forceDir)});
    new Gallery({ db: fdb.db, audit: fdb.audit, clock: systemClock, photosDir: ${JSON.stringify(path.join(forceDir, 'gallery', 'photos'))} })
      .deletePerson(${JSON.stringify(person)}, 'released', { type: 'cli', id: 'officer-2' });
    fdb.close();
  `;
}
