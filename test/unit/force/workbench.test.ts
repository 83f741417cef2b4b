import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caseReport } from '../../../daemon/src/force/case-report.js';
import { forcePaths } from '../../../daemon/src/force/paths.js';
import { GalleryRepo } from '../../../daemon/src/force/db/gallery.js';
import { loadPhotoEmbedder, type PhotoEmbedder } from '../../../daemon/src/force/embedder.js';
import { Gallery, parseManifest } from '../../../daemon/src/force/gallery.js';
import { searchSubjects } from '../../../daemon/src/force/search.js';
import { ManualClock, systemClock } from '../../../daemon/src/util/clock.js';
import { runCli } from '../../helpers/cli.js';
import { PUBLIC_FACE } from '../../helpers/faces.js';
import { makePackageFolder } from '../../helpers/evidence.js';
import { unitVec } from '../../helpers/force-console.js';
import { ForceStoreBuilder } from '../../helpers/force-intake.js';
import { tempDir } from '../../helpers/paths.js';

const OFFICER = { type: 'cli' as const, id: 'officer-1' };
const bytesOf = (v: Float32Array): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/** Every copy SQLite might keep: the database file and its write-ahead log. */
function storedBytes(forceDir: string): Buffer {
  const db = forcePaths(forceDir).db;
  return Buffer.concat([readFileSync(db), existsSync(`${db}-wal`) ? readFileSync(`${db}-wal`) : Buffer.alloc(0)]);
}

describe('force triage: nothing is searched before an officer accepts; rejected or expired evidence is gone', () => {
  let force: ForceStoreBuilder;
  let crops: string[];
  const rows = (action: string) => force.fdb.audit.find({ action });

  beforeAll(async () => {
    force = new ForceStoreBuilder(tempDir('hs-triage-'));
    crops = (await makePackageFolder(path.join(force.dir, 'crops'), { subjects: 1, crops: 1 })).workingFiles.filter((f) => f.endsWith('.jpg'));
    await force.addIncident('box-a', 'High Street', 'inc-accept', [1, 2].map((s) => ({ crops, embedding: unitVec(s) })));
    await force.addIncident('box-b', 'Market Square', 'inc-reject', [3, 4, 5].map((s) => ({ crops, embedding: unitVec(s) })));
  });
  afterAll(() => force?.close());

  it('the queue shows where and when (no face), and when each is deleted untriaged; no search reaches them', () => {
    const w = force.workbench();
    const q = w.queue();
    expect(q.map((i) => [i.incidentId, i.store, i.subjects])).toEqual([
      ['inc-accept', 'High Street', 2],
      ['inc-reject', 'Market Square', 3],
    ]);
    expect(q[0]!.deleteAtUtc - q[0]!.receivedUtc).toBe(31 * 86_400_000);
    expect(JSON.stringify(q)).not.toMatch(/crop|embedding/);
    expect(searchSubjects(force.fdb.db, unitVec(1), { top: 10 })).toEqual([]);
    expect(() => w.candidateLists('inc-accept', OFFICER)).toThrow(/untriaged: it has no candidate list/);
  });

  it('refuses a triage decision without a valid crime reference, a reason of three words, or a known subject', () => {
    const w = force.workbench();
    const accept = (crimeRef: string, necessity: string, subjects: string[] | 'all') => () => w.accept('inc-accept', { crimeRef, necessity, subjects }, OFFICER);
    expect(accept('', 'theft of goods, repeat offender', 'all')).toThrow(/crime reference "" is not valid/);
    expect(accept('CR/1; DROP TABLE', 'theft of goods, repeat offender', 'all')).toThrow(/crime reference .* is not valid/);
    expect(accept('CR/2026/0417', 'because', 'all')).toThrow(/--necessity must say why, in at least three words/);
    expect(accept('CR/2026/0417', 'theft of goods, repeat offender', ['s9'])).toThrow(/has no subject "s9".*|its subjects: s0, s1/);
    expect(() => w.accept('no-such-incident', { crimeRef: 'CR/2026/0417', necessity: 'theft of goods here', subjects: 'all' }, OFFICER)).toThrow(/no incident or envelope "no-such-incident"/);
    expect(() => w.reject('inc-reject', 'no', OFFICER)).toThrow(/at least three words/);
    expect(rows('triage.accepted')).toEqual([]);
  });

  it('opening is audited; accepting records the crime reference and searches only the chosen subjects', () => {
    const w = force.workbench();
    const opened = w.open('inc-accept', OFFICER);
    expect(opened.subjectList.map((s) => [s.subjectId, s.searchable])).toEqual([
      ['s0', true],
      ['s1', true],
    ]);
    expect(rows('triage.opened').at(-1)).toMatchObject({ actor: OFFICER, object_ids: ['inc-accept', opened.envelopeId] });
    const lists = w.accept('inc-accept', { crimeRef: 'CR/2026/0417', necessity: 'theft of razor blades, repeat offender', subjects: ['s1'] }, OFFICER);
    expect(lists.map((l) => l.subjectId)).toEqual(['s1']);
    expect(lists[0]!.note, 'an empty gallery proposes nobody, and says why').toMatch(/the gallery has no photo embedded with this subject's model \(test-model\): run `hindsight-force gallery reembed`/);
    expect(rows('triage.accepted').at(-1)).toMatchObject({ justification: 'theft of razor blades, repeat offender', detail: { crime_ref: 'CR/2026/0417', subjects: 1, of: 2 } });
    expect(rows('gallery.searched').map((r) => r.object_ids[1])).toEqual(['s1']);
    // the search across incidents sees the chosen subject only, never s0
    expect(searchSubjects(force.fdb.db, unitVec(1), { top: 10 }).map((h) => h.subjectId)).toEqual(['s1']);
    expect(() => w.accept('inc-accept', { crimeRef: 'CR/2026/0417', necessity: 'theft of razor blades again', subjects: 'all' }, OFFICER)).toThrow(/already accepted/);
    expect(w.candidateLists('inc-accept', OFFICER).triage.crimeRef).toBe('CR/2026/0417');
    expect(rows('candidates.viewed')).toHaveLength(1);
  });

  it('a rejected incident is deleted: folder, rows and every byte of its embeddings, with a deletion receipt', () => {
    const w = force.workbench();
    const t = w.resolve('inc-reject');
    const dir = force.fdb.db.prepare('SELECT dir FROM incidents WHERE envelope_id = ?').pluck().get(t.envelopeId) as string;
    const hashes = (force.fdb.db.prepare('SELECT sha256 FROM files WHERE envelope_id = ?').pluck().all(t.envelopeId) as string[]).sort();
    const secrets = [3, 4, 5].map((s) => bytesOf(unitVec(s)));
    for (const b of secrets) expect(storedBytes(force.forceDir).includes(b), 'the embedding is stored before').toBe(true);
    w.reject('inc-reject', 'no offence took place here', OFFICER);
    expect(existsSync(dir)).toBe(false);
    for (const b of secrets) expect(storedBytes(force.forceDir).includes(b), 'no copy of the embedding in the database or its WAL').toBe(false);
    expect(force.fdb.db.prepare('SELECT COUNT(*) FROM subjects WHERE envelope_id = ?').pluck().get(t.envelopeId)).toBe(0);
    const receipt = rows('evidence.deleted').at(-1)!;
    expect(receipt).toMatchObject({ actor: OFFICER, justification: 'no offence took place here', detail: { why: 'rejected', subjects: 3 } });
    expect([...receipt.sha256s].sort()).toEqual(hashes);
    expect(w.resolve('inc-reject').state).toBe('rejected');
    expect(() => w.open('inc-reject', OFFICER)).toThrow(/was rejected: its evidence is deleted/);
    expect(force.fdb.audit.verify().ok).toBe(true);
  });

  it('an incident nobody triages is deleted after triage_max_days (31), by the system, with a receipt', async () => {
    await force.addIncident('box-c', 'Station Road', 'inc-forgotten', [{ crops, embedding: unitVec(6) }]);
    const received = force.workbench().resolve('inc-forgotten').receivedUtc;
    const clock = new ManualClock(received + 31 * 86_400_000 - 1);
    expect(force.workbench(clock).expireDue(), 'a millisecond before its time').toBe(0);
    clock.set(received + 31 * 86_400_000 + 1);
    expect(force.workbench(clock).expireDue()).toBe(1);
    expect(force.workbench().resolve('inc-forgotten').state).toBe('expired');
    expect(rows('triage.expired').at(-1)).toMatchObject({ actor: { type: 'system', id: 'triage' }, justification: 'not triaged within 31 days' });
    expect(storedBytes(force.forceDir).includes(bytesOf(unitVec(6)))).toBe(false);
    expect(force.workbench(clock).queue()).toEqual([]);
  });
});

describe('the custody gallery: the boxes\' face pipeline on each photo, deletion leaves no embedding behind', () => {
  let force: ForceStoreBuilder;
  let embedder: PhotoEmbedder;
  let folder: string;
  beforeAll(async () => {
    force = new ForceStoreBuilder(tempDir('hs-gallery-'));
    embedder = await loadPhotoEmbedder();
    folder = path.join(force.dir, 'custody');
    mkdirSync(folder, { recursive: true });
    copyFileSync(PUBLIC_FACE, path.join(folder, 'hopper.jpg'));
    writeFileSync(path.join(folder, 'not-a-photo.jpg'), 'this is text, not a JPEG');
    // a photo with no face: a flat grey PNG
    const sharp = (await import('sharp')).default;
    await sharp({ create: { width: 200, height: 200, channels: 3, background: { r: 128, g: 128, b: 128 } } }).png().toFile(path.join(folder, 'grey.png'));
  });
  afterAll(async () => {
    await embedder?.release();
    force?.close();
  });

  const manifest = (lines: string[]): string => {
    const f = path.join(folder, `manifest-${lines.length}-${Math.random().toString(36).slice(2)}.csv`);
    writeFileSync(f, ['person_ref,photo_file,capture_date,source', ...lines].join('\n'));
    return f;
  };

  it('reads a manifest strictly: bad lines are named, never guessed', () => {
    expect(() => parseManifest('person,file\n')).toThrow(/first line must be the header person_ref,photo_file,capture_date,source/);
    const { rows, bad } = parseManifest('person_ref,photo_file,capture_date,source\nP1,a.jpg,2025-02-30x,custody\n"P2","b,c.jpg",2025-02-03,custody\nP 3,a.jpg,2025-01-01,custody\nP4,/etc/passwd,2025-01-01,custody\nP5,a.jpg,2025-01-01\n');
    expect(rows.map((r) => [r.personRef, r.file])).toEqual([['P2', 'b,c.jpg']]);
    expect(bad.map((b) => b.line)).toEqual([2, 4, 5, 6]);
    expect(bad.map((b) => b.reason).join(' | ')).toMatch(/not a date.*person reference "P 3" is not valid.*must be a path inside the folder.*3 fields, expected 4/);
  });

  it('imports a photo through detector, gate and embedder; reports the ones that fail with the reason; a probe finds the person', async () => {
    const gallery = new Gallery({ db: force.fdb.db, audit: force.fdb.audit, clock: systemClock, photosDir: path.join(force.forceDir, 'gallery', 'photos') });
    const report = await gallery.import(folder, manifest(['GH-1,hopper.jpg,2024-05-01,custody', 'TXT-1,not-a-photo.jpg,2024-05-01,custody', 'GREY-1,grey.png,2024-05-01,custody', 'NOFILE-1,missing.jpg,2024-05-01,custody', 'ESC-1,../../outside.jpg,2024-05-01,custody']), embedder, OFFICER, { sync: false });
    expect(report).toMatchObject({ added: 1, updated: 0, unchanged: 0 });
    expect(report.failed.map((f) => [f.personRef, f.reason.split(':')[0]])).toEqual([
      ['TXT-1', 'cannot read it'],
      ['GREY-1', 'no face found'],
      ['NOFILE-1', 'cannot read it'],
      ['ESC-1', 'cannot read it'],
    ]);
    expect(new GalleryRepo(force.fdb.db).counts()).toEqual({ persons: 1, photos: 1 });
    // the same manifest again: nothing to do
    expect((await gallery.import(folder, manifest(['GH-1,hopper.jpg,2024-05-01,custody']), embedder, OFFICER, { sync: false })).unchanged).toBe(1);
    const probe = await embedder.embedPhoto('hopper.jpg', readFileSync(PUBLIC_FACE), 'best');
    if ('reason' in probe) throw new Error(probe.reason);
    const found = gallery.search(probe.embedding, embedder.model, 10, 0.34);
    expect(found.map((m) => m.personRef)).toEqual(['GH-1']);
    expect(gallery.search(probe.embedding, 'another-model', 10, 0.34), 'only the same model is compared').toEqual([]);
    expect(force.fdb.audit.find({ action: 'gallery.imported' })[0]).toMatchObject({ actor: OFFICER, detail: { added: 1, failed: 4 } });
  });

  it('deleting a person (or a sync without them) leaves no photo, copy or embedding byte, with a deletion receipt', async () => {
    const gallery = new Gallery({ db: force.fdb.db, audit: force.fdb.audit, clock: systemClock, photosDir: path.join(force.forceDir, 'gallery', 'photos') });
    const repo = new GalleryRepo(force.fdb.db);
    const photo = repo.photosOf('GH-1')[0]!;
    expect(storedBytes(force.forceDir).includes(photo.embedding)).toBe(true);
    expect(existsSync(photo.storedPath)).toBe(true);
    gallery.deletePerson('GH-1', 'released without charge, image to be removed', OFFICER);
    expect(repo.counts()).toEqual({ persons: 0, photos: 0 });
    expect(existsSync(photo.storedPath)).toBe(false);
    expect(storedBytes(force.forceDir).includes(photo.embedding), 'no copy in the database or its WAL').toBe(false);
    expect(force.fdb.audit.find({ action: 'gallery.person_deleted' })[0]).toMatchObject({ object_ids: ['GH-1'], sha256s: [photo.sha256], justification: 'released without charge, image to be removed' });
    expect(() => gallery.deletePerson('GH-1', 'released without charge again', OFFICER)).toThrow(/no person "GH-1" in the gallery/);

    // sync: the manifest is the whole custody set
    await gallery.import(folder, manifest(['GH-1,hopper.jpg,2024-05-01,custody', 'GH-2,hopper.jpg,2024-06-01,custody']), embedder, OFFICER, { sync: false });
    const synced = await gallery.import(folder, manifest(['GH-2,hopper.jpg,2024-06-01,custody']), embedder, OFFICER, { sync: true });
    expect(synced).toMatchObject({ unchanged: 1, removedPersons: ['GH-1'], removedPhotos: 1 });
    expect(repo.persons().map((p) => p.personRef)).toEqual(['GH-2']);
    expect(existsSync(repo.photosOf('GH-2')[0]!.storedPath), 'the copy GH-2 still uses stays').toBe(true);
    // a new capture date for the same photo is an update, not a new embedding
    const redated = await gallery.import(folder, manifest(['GH-2,hopper.jpg,2024-07-01,custody suite B']), embedder, OFFICER, { sync: false });
    expect(redated).toMatchObject({ updated: 1, added: 0 });
    expect(repo.photosOf('GH-2')[0]).toMatchObject({ captured: '2024-07-01', source: 'custody suite B' });
    expect(force.fdb.audit.verify().ok).toBe(true);
  });
});

describe('review, series and retention: two reviewers confirm a possible match; unconfirmed subjects do not outlive retention', () => {
  let force: ForceStoreBuilder;
  const X = unitVec(100);
  const rows = (action: string) => force.fdb.audit.find({ action });
  const R1 = { type: 'cli' as const, id: 'reviewer-1' };
  const R2 = { type: 'cli' as const, id: 'reviewer-2' };

  beforeAll(async () => {
    force = new ForceStoreBuilder(tempDir('hs-review-'));
    const crops = (await makePackageFolder(path.join(force.dir, 'crops'), { subjects: 1, crops: 1 })).workingFiles.filter((f) => f.endsWith('.jpg'));
    // the same unknown person X at two shops (s0 of each), a different stranger beside them
    await force.addIncident('box-a', 'High Street', 'inc-a', [{ crops, embedding: unitVec(101, X, 0.03) }, { crops, embedding: unitVec(102) }]);
    await force.addIncident('box-b', 'Market Square', 'inc-b', [{ crops, embedding: unitVec(103, X, 0.03) }, { crops, embedding: unitVec(104) }]);
    // the gallery holds X (a custody photo of them) and someone else
    const g = new GalleryRepo(force.fdb.db);
    for (const [ref, v] of [['P-X', unitVec(105, X, 0.03)], ['P-OTHER', unitVec(106)]] as const) {
      g.upsertPerson(ref, 1);
      g.addPhoto({ photoId: `photo-${ref}`, personRef: ref, file: `${ref}.jpg`, sha256: '0'.repeat(64), storedPath: path.join(force.dir, `${ref}.jpg`), captured: '2025-01-01', source: 'custody', model: 'test-model', embedding: bytesOf(v), faceScore: 0.99, addedUtc: 1 });
    }
  });
  afterAll(() => force?.close());

  it('links the same unknown person across shops once both incidents are accepted; a reviewer can split the link', () => {
    const w = force.workbench();
    w.accept('inc-a', { crimeRef: 'CR/2026/0001', necessity: 'theft of goods at the tills', subjects: 'all' }, OFFICER);
    expect(w.series(), 'one accepted incident: no series yet').toEqual([]);
    const lists = w.accept('inc-b', { crimeRef: 'CR/2026/0002', necessity: 'theft of goods at the tills', subjects: 'all' }, OFFICER);
    expect(lists.find((l) => l.subjectId === 's0')!.candidates.map((c) => c.personRef)).toEqual(['P-X']);
    expect(lists.find((l) => l.subjectId === 's1')!.candidates, 'the stranger has no candidate').toEqual([]);
    const series = w.series();
    expect(series).toHaveLength(1);
    expect(series[0]!.members.map((m) => [m.incidentId, m.subjectId])).toEqual(expect.arrayContaining([['inc-a', 's0'], ['inc-b', 's0']]));
    expect(series[0]!.stores).toBe(2);
    const [a, b] = series[0]!.members;
    expect(() => w.splitSeries(a!, b!, 'no', R1)).toThrow(/at least three words/);
    w.splitSeries(a!, b!, 'different clothes and height', R1);
    expect(w.series()).toEqual([]);
    expect(() => w.splitSeries(a!, b!, 'different clothes and height', R1)).toThrow(/are not linked/);
    expect(rows('series.split')).toHaveLength(1);
  });

  it('a possible match is shown as one only when a second, different reviewer names the same person', () => {
    const w = force.workbench();
    const decide = (by: typeof R1, decision: 'possible_match' | 'no_match' | 'not_usable', personRef?: string) => w.decide('inc-a', { subjectId: 's0', decision, personRef, reason: 'face and build compared' }, by);
    expect(() => decide(R1, 'possible_match', 'P-OTHER')).toThrow(/names a person from the subject's candidate list.*|candidates: P-X/);
    expect(() => decide(R1, 'possible_match')).toThrow(/candidate list/);
    expect(() => decide(R1, 'no_match', 'P-X')).toThrow(/only a possible match names a person/);
    expect(() => w.decide('inc-a', { subjectId: 's9', decision: 'no_match', reason: 'face and build compared' }, R1)).toThrow(/was not searched/);
    expect(decide(R1, 'possible_match', 'P-X').confirmed).toBeUndefined();
    expect(decide(R1, 'possible_match', 'P-X').confirmed, 'the same reviewer twice is one reviewer').toBeUndefined();
    expect(decide(R2, 'no_match').confirmed).toBeUndefined();
    expect(decide(R2, 'possible_match', 'P-X').confirmed).toBe('P-X');
    expect(rows('review.decided').at(-1)).toMatchObject({ actor: R2, detail: { decision: 'possible_match', confirmed: 'P-X', crime_ref: 'CR/2026/0001' } });
    expect(w.reviewOf('inc-a').subjects.map((s) => [s.subjectId, s.confirmed ?? null])).toEqual([
      ['s0', 'P-X'],
      ['s1', null],
    ]);
  });

  it("exports the officer's case report: one HTML file with crops, candidates, both decisions, hashes and the audit trail (audited)", async () => {
    const w = force.workbench();
    w.decide('inc-a', { subjectId: 's1', decision: 'not_usable', reason: '<script>alert(1)</script> face turned away' }, R1);
    const html = caseReport({ db: force.fdb.db, audit: force.fdb.audit, workbench: w, now: Date.UTC(2026, 11, 7) }, 'inc-a', OFFICER);
    expect(html).toContain('Case report: CR/2026/0001');
    expect(html.match(/never identifications/g)).toHaveLength(2);
    expect(html).toContain('Possible match with P-X, confirmed by two reviewers.');
    expect(html).toContain('cli:reviewer-1');
    expect(html).toContain('cli:reviewer-2');
    expect(html, 'what a reviewer wrote is text, never markup').toContain('&lt;script&gt;alert(1)&lt;/script&gt; face turned away');
    expect(html).not.toMatch(/<script/i);
    expect(html.match(/src="data:image\/jpeg;base64,/g)!.length, 'the crops inline').toBeGreaterThanOrEqual(2);
    const t = w.resolve('inc-a');
    for (const h of force.fdb.db.prepare('SELECT sha256 FROM files WHERE envelope_id = ?').pluck().all(t.envelopeId) as string[]) expect(html).toContain(h);
    for (const action of ['triage.accepted', 'gallery.searched', 'review.decided', 'evidence.received']) expect(html).toContain(`<td>${action}</td>`);
    // the CLI writes it once (0600), never over a file, and audits the export with its hash
    const out = path.join(force.dir, 'case.html');
    const config = path.join(force.forceDir, 'force.yaml');
    const r = await runCli(['force', 'report', 'inc-a', '--out', out, '--config', config]);
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const again = await runCli(['force', 'report', 'inc-a', '--out', out, '--config', config]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists: a case report is never written over/);
    expect(rows('case.exported')).toHaveLength(1);
    expect(rows('case.exported')[0]!.sha256s).toEqual([createHash('sha256').update(readFileSync(out)).digest('hex')]);
    expect((await runCli(['force', 'report', 'inc-b-missing', '--out', path.join(force.dir, 'x.html'), '--config', config])).code).toBe(2);
  });

  it('after retention: a case keeps its confirmed subject only; a case with none is deleted whole; no embedding byte left', () => {
    const accepted = force.workbench().resolve('inc-a').decidedUtc!;
    const clock = new ManualClock(accepted + 90 * 86_400_000 - 60_000);
    expect(force.workbench(clock).expireDue(), 'before 90 days').toBe(0);
    clock.set(accepted + 91 * 86_400_000);
    const secrets = [unitVec(102), unitVec(103, X, 0.03), unitVec(104)].map(bytesOf);
    expect(force.workbench(clock).expireDue()).toBe(2);
    const w = force.workbench(clock);
    expect(w.resolve('inc-a').state).toBe('accepted');
    expect(force.fdb.db.prepare("SELECT subject_id FROM subjects WHERE envelope_id = ?").pluck().all(w.resolve('inc-a').envelopeId)).toEqual(['s0']);
    expect(w.resolve('inc-b').state).toBe('expired');
    for (const b of secrets) expect(storedBytes(force.forceDir).includes(b), 'deleted subjects leave no byte in the database or its WAL').toBe(false);
    expect(storedBytes(force.forceDir).includes(bytesOf(unitVec(101, X, 0.03))), 'the confirmed subject is kept').toBe(true);
    expect(rows('subjects.deleted').at(-1)).toMatchObject({ actor: { type: 'system', id: 'triage' }, detail: { subjects: 1, kept: 1 } });
    expect(rows('evidence.deleted').at(-1)).toMatchObject({ justification: 'no possible match confirmed within 90 days of acceptance' });
    expect(force.fdb.audit.verify().ok).toBe(true);
  });
});
