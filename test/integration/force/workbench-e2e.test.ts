import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCctvVideo } from '../../../daemon/src/devkit/cctv.js';
import type { ForceKit } from '../../../daemon/src/devkit/force.js';
import { openForceDb } from '../../../daemon/src/force/database.js';
import type { ImportReport } from '../../../daemon/src/force/gallery.js';
import type { OpenedIncident, QueueItem, SubjectCandidates } from '../../../daemon/src/force/workbench.js';
import { runCommand } from '../../../daemon/src/util/child.js';
import { runCli } from '../../helpers/cli.js';
import { query } from '../../helpers/evidence.js';
import { FACES_DIR, HAVE_FACES, identityPhotos, NO_FACES_MESSAGE } from '../../helpers/faces.js';
import { readDb, waitForFootage, waitForState } from '../../helpers/incidents.js';
import { lengthenVideo } from '../../helpers/media.js';
import { REPO_ROOT, tempDir } from '../../helpers/paths.js';
import { walker, type KnownWalker } from '../../helpers/walkers.js';
import { startChain, type Chain } from '../../helpers/chain.js';

/**
 * The force's workbench, end to end with nothing mocked: a custody gallery imported from the dev photos
 * (one photo per identity), a camera showing two of those people (other photos of them) and one person
 * who is not in the gallery, an incident logged on the box and delivered over the TLS broker. At the
 * force nothing is searched until an officer accepts the incident with a crime reference and picks the
 * subjects; then the two enrolled people have their true identity as the first candidate and the third
 * has no candidate at or above the threshold. A second incident rejected at triage is deleted with a
 * deletion receipt and was never searched.
 *
 * The people are deepface test identities: their photos are 400-800 px, so the faces stay sharp at
 * ~200 px wide in a 1280x720 frame. Photos are read from HINDSIGHT_FACES_DIR and never copied.
 */

const FORCE = path.join(REPO_ROOT, 'daemon', 'dist', 'force', 'main.js');
const CRIME_REF = 'CR/2026/0417';

/** The people on camera: the gallery holds another photo of the first two, nothing of the third. */
const ON_CAMERA = [
  { identity: 'df06', photo: '5.jpg', enrolled: true },
  { identity: 'df08', photo: '3.jpg', enrolled: true },
  { identity: 'df10', photo: '3.jpg', enrolled: false },
] as const;

/**
 * One person at a time, each walking left to right for 6 s, 2.5 s apart and entering far from where the
 * previous one left: a tracker must not take one for the other, and each gives its own subject.
 */
const WALKS = [
  { from: { t: 1, x: 60, y: 200, width: 300 }, to: { t: 7, x: 860, y: 160, width: 380 } },
  { from: { t: 9.5, x: 80, y: 220, width: 300 }, to: { t: 15.5, x: 860, y: 170, width: 380 } },
  { from: { t: 18, x: 80, y: 180, width: 300 }, to: { t: 24, x: 860, y: 150, width: 380 } },
];

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function force(args: string[], config: string): Promise<CliResult> {
  const r = await runCommand(process.execPath, [FORCE, ...args, '--config', config], { timeoutMs: 120_000 });
  return { code: r.code, stdout: r.stdout.toString('utf8'), stderr: r.stderr };
}

async function forceJson<T>(args: string[], config: string): Promise<T> {
  const r = await force([...args, '--json'], config);
  expect(r.code, `hindsight-force ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout) as T;
}

interface SearchHit {
  incidentId: string;
  subjectId: string;
  score: number;
}

if (!HAVE_FACES) console.warn(NO_FACES_MESSAGE);

describe.skipIf(!HAVE_FACES)('the force workbench: triage, then candidate lists from the custody gallery (dev photos)', () => {
  let dir: string;
  let kit: ForceKit;
  let chain: Chain;
  let boxConfig: string;
  let stateDir: string;
  let forceDb: string;
  let manifest: string;
  let galleryIdentities: string[];
  /** When the camera's video started, as the box recorded it (UTC ms). */
  let videoStart: number;

  beforeAll(async () => {
    dir = tempDir('hs-workbench-');
    stateDir = path.join(dir, 'state');
    const photos = identityPhotos();
    // The gallery: the first photo of every dev identity but the unenrolled one. Paths are relative to the
    // photo folder, which is given as --folder: the photos are read where they are.
    const unenrolled: string[] = ON_CAMERA.filter((p) => !p.enrolled).map((p) => p.identity);
    galleryIdentities = [...photos.keys()].filter((id) => !unenrolled.includes(id) && photos.get(id)!.length > 0);
    const lines = galleryIdentities.map((id) => `${id},${path.relative(FACES_DIR, photos.get(id)![0]!)},2025-11-03,custody-dev`);
    manifest = path.join(dir, 'custody.csv');
    writeFileSync(manifest, ['person_ref,photo_file,capture_date,source', ...lines].join('\n') + '\n');
    // the camera shows photos the gallery does not hold
    for (const p of ON_CAMERA.filter((q) => q.enrolled)) expect(path.basename(photos.get(p.identity)![0]!)).not.toBe(p.photo);

    const walkers: KnownWalker[] = [];
    for (const [i, p] of ON_CAMERA.entries()) walkers.push(await walker(p.identity, path.join(FACES_DIR, p.identity, p.photo), WALKS[i]!.from, WALKS[i]!.to));
    const scene = await makeCctvVideo(path.join(dir, 'scene.ts'), { seconds: 30, walkers, width: 1280, height: 720, fps: 10, gop: 10, noise: 4, crf: 26 });
    // the camera keeps streaming while the test runs (the scene repeats after 30 s, outside every window)
    const video = await lengthenVideo(scene, path.join(dir, 'shop.ts'), 240);

    chain = await startChain(dir, video);
    ({ kit, boxConfig } = chain);
    forceDb = path.join(kit.forceDir, 'force.db');
  });

  afterAll(async () => {
    await chain?.stop();
  });

  /** The recording's start (the video started with it), once `seconds` of footage are on the box. */
  async function footage(seconds: number): Promise<number> {
    await waitForFootage(stateDir, ['till2'], seconds);
    const db = readDb(stateDir);
    try {
      return db.prepare("SELECT MIN(start_utc_ms) FROM segments WHERE camera_id = 'till2'").pluck().get() as number;
    } finally {
      db.close();
    }
  }

  async function logIncident(atVideoS: number, before: number, after: number, justification: string): Promise<string> {
    const at = new Date(videoStart + atVideoS * 1000).toISOString();
    const logged = await runCli(['incident', 'log', '--config', boxConfig, '--json', '--at', at, '--before', String(before), '--after', String(after), '--zone', 'tills', '--reason', 'theft', '--justification', justification]);
    expect(logged.code, logged.stderr).toBe(0);
    const id = (JSON.parse(logged.stdout) as { id: string }).id;
    const done = await waitForState(stateDir, id, ['delivered', 'failed'], 240_000);
    expect(done.state, done.failure ?? '').toBe('delivered');
    return id;
  }

  /** Gallery searches audited so far. */
  const searches = (): number => query<{ n: number }>(forceDb, "SELECT COUNT(*) AS n FROM audit WHERE action = 'gallery.searched'")[0]!.n;

  it('nothing is searched until an officer accepts the incident; then the two enrolled people are the first candidates and the stranger has none', async () => {
    // The custody gallery is imported while the box records.
    const [imported, start] = await Promise.all([force(['gallery', 'import', '--folder', FACES_DIR, '--manifest', manifest, '--json'], kit.forceConfig), footage(28)]);
    videoStart = start;
    expect(imported.code, imported.stderr).toBe(0);
    const report = JSON.parse(imported.stdout) as ImportReport;
    expect(report).toMatchObject({ added: galleryIdentities.length, updated: 0, unchanged: 0, failed: [] });
    expect(galleryIdentities.length).toBeGreaterThanOrEqual(40);
    const persons = await forceJson<{ personRef: string; photos: number }[]>(['gallery', 'list'], kit.forceConfig);
    expect(persons.map((p) => p.personRef).sort()).toEqual([...galleryIdentities].sort());
    for (const p of ON_CAMERA) expect(persons.some((x) => x.personRef === p.identity), p.identity).toBe(p.enrolled);

    // Staff log what happened at till 2: the window covers all three people.
    const id = await logIncident(13, 13, 12, 'two people took razor blades while a third stood by');

    // At the force: waiting for triage, where and when only.
    const queue = await forceJson<QueueItem[]>(['triage', 'list'], kit.forceConfig);
    const item = queue.find((q) => q.incidentId === id);
    expect(item).toMatchObject({ incidentId: id, deviceId: 'box-1', store: 'High Street', subjects: 3 });
    expect(JSON.stringify(queue)).not.toMatch(/crop|\.jpg/);

    // Nothing searched yet: no search audited, no candidate list, and the cross-incident search cannot see
    // the untriaged incident's faces even with another photo of someone in it.
    expect(searches()).toBe(0);
    expect(query(forceDb, 'SELECT * FROM candidates')).toEqual([]);
    const noList = await force(['candidates', id], kit.forceConfig);
    expect(noList.code).not.toBe(0);
    expect(noList.stderr).toMatch(/untriaged: it has no candidate list/);
    const probe = path.join(FACES_DIR, 'df06', '2.jpg');
    const before = await forceJson<SearchHit[]>(['search', '--image', probe, '--reason', 'linking the razor blade thefts'], kit.forceConfig);
    expect(before).toEqual([]);

    // An officer opens it (audited: it shows faces) and accepts it for search, every subject.
    const opened = await forceJson<OpenedIncident>(['triage', 'open', id], kit.forceConfig);
    expect(opened.state).toBe('untriaged');
    expect(opened.subjectList).toHaveLength(3);
    for (const s of opened.subjectList) expect(s.searchable).toBe(true);
    expect(searches()).toBe(0);
    const missingRef = await force(['triage', 'accept', id, '--necessity', 'theft of stock, suspects unknown', '--all-subjects'], kit.forceConfig);
    expect(missingRef.code).not.toBe(0);
    expect(searches()).toBe(0);
    const accepted = await forceJson<SubjectCandidates[]>(['triage', 'accept', id, '--crime-ref', CRIME_REF, '--necessity', 'repeated theft of razor blades, suspects not known to staff', '--all-subjects'], kit.forceConfig);
    expect(accepted.map((l) => l.subjectId).sort()).toEqual(opened.subjectList.map((s) => s.subjectId).sort());

    // Which subject is who: the people crossed one at a time, so in order of first sighting, as far apart
    // as they entered the scene.
    const sightings = query<{ subject_id: string; first_seen: number }>(forceDb, 'SELECT s.subject_id, s.first_seen FROM subjects s JOIN incidents i ON i.envelope_id = s.envelope_id WHERE i.incident_id = ? ORDER BY s.first_seen', id);
    const order = sightings.map((r) => r.subject_id);
    for (let i = 1; i < sightings.length; i++) {
      const gap = (sightings[i]!.first_seen - sightings[i - 1]!.first_seen) / 1000;
      expect(Math.abs(gap - (WALKS[i]!.from.t - WALKS[i - 1]!.from.t)), `${order[i - 1]} then ${order[i]}: ${gap} s apart`).toBeLessThan(1.5);
    }

    const { crime_ref: crimeRef, lists } = await forceJson<{ crime_ref: string; lists: SubjectCandidates[] }>(['candidates', id], kit.forceConfig);
    expect(crimeRef).toBe(CRIME_REF);
    expect(lists).toEqual(expect.arrayContaining(accepted));
    const threshold = (query<{ detail: string }>(forceDb, "SELECT detail FROM audit WHERE action = 'gallery.searched'").map((r) => JSON.parse(r.detail) as { threshold: number })[0]!).threshold;
    expect(threshold).toBe(0.34);
    for (const [i, person] of ON_CAMERA.entries()) {
      const list = lists.find((l) => l.subjectId === order[i])!;
      const shown = `${person.identity} (subject ${list.subjectId}): ${JSON.stringify(list.candidates.slice(0, 3))}`;
      for (const c of list.candidates) expect(c.score, shown).toBeGreaterThanOrEqual(threshold);
      if (person.enrolled) {
        expect(list.candidates[0]?.personRef, shown).toBe(person.identity);
        expect(list.candidates[0]!.rank).toBe(1);
        // the true identity stands clear of the next proposal, if any
        expect(list.candidates[0]!.score - (list.candidates[1]?.score ?? 0), shown).toBeGreaterThan(0.2);
      } else {
        expect(list.candidates, shown).toEqual([]);
        expect(list.note).toMatch(/no gallery photo at or above the threshold/);
      }
    }
    expect(query<{ n: number }>(forceDb, 'SELECT COUNT(DISTINCT subject_id) AS n FROM candidates')[0]!.n).toBe(2);

    // The accepted subjects are now open to the cross-incident search: the same photo finds its subject.
    const after = await forceJson<SearchHit[]>(['search', '--image', probe, '--reason', 'linking the razor blade thefts'], kit.forceConfig);
    expect(after[0]).toMatchObject({ incidentId: id, subjectId: order[0] });

    // The audit: the look, the decision with its crime reference, one search per subject, the reading.
    const fdb = openForceDb(kit.forceDir);
    try {
      expect(fdb.audit.find({ action: 'triage.opened', objectId: id })).toHaveLength(1);
      const decision = fdb.audit.find({ action: 'triage.accepted', objectId: id });
      expect(decision).toHaveLength(1);
      expect(decision[0]!.detail).toMatchObject({ crime_ref: CRIME_REF, subjects: 3, of: 3 });
      expect(decision[0]!.justification).toMatch(/razor blades/);
      const searches = fdb.audit.find({ action: 'gallery.searched', objectId: id });
      expect(searches.map((s) => s.object_ids[1]).sort()).toEqual([...order].sort());
      for (const s of searches) expect(s.detail).toMatchObject({ crime_ref: CRIME_REF, threshold, top: 10 });
      expect(fdb.audit.find({ action: 'candidates.viewed', objectId: id })).toHaveLength(1);
      expect(fdb.audit.find({ action: 'gallery.imported' })).toHaveLength(1);
      expect(fdb.audit.verify().ok).toBe(true);
    } finally {
      fdb.close();
    }
    const verify = await force(['incidents', '--verify'], kit.forceConfig);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });

  it('an incident rejected at triage is never searched and its evidence is deleted, with the hashes of its files in the receipt', async () => {
    videoStart ??= await footage(28);
    // the stranger alone
    const id = await logIncident(21, 3, 3, 'a man loitered by the razor blades at till 2');
    const [stored] = query<{ envelope_id: string; dir: string }>(forceDb, 'SELECT envelope_id, dir FROM incidents WHERE incident_id = ?', id);
    expect(stored && existsSync(stored.dir)).toBe(true);
    const hashes = query<{ sha256: string }>(forceDb, 'SELECT sha256 FROM files WHERE envelope_id = ?', stored!.envelope_id).map((r) => r.sha256).sort();
    expect(hashes.length).toBeGreaterThan(0);
    expect(query(forceDb, 'SELECT 1 FROM subjects WHERE envelope_id = ?', stored!.envelope_id)).toHaveLength(1);
    expect((await forceJson<QueueItem[]>(['triage', 'list'], kit.forceConfig)).map((q) => q.incidentId)).toContain(id);

    const noReason = await force(['triage', 'reject', id], kit.forceConfig);
    expect(noReason.code).not.toBe(0);
    expect(existsSync(stored!.dir)).toBe(true);
    const rejected = await force(['triage', 'reject', id, '--reason', 'no offence seen in the footage'], kit.forceConfig);
    expect(rejected.code, rejected.stderr).toBe(0);

    expect(existsSync(stored!.dir)).toBe(false);
    for (const table of ['incidents', 'files', 'subjects', 'candidates']) expect(query(forceDb, `SELECT 1 FROM ${table} WHERE envelope_id = ?`, stored!.envelope_id), table).toEqual([]);
    expect(query(forceDb, 'SELECT state FROM triage WHERE envelope_id = ?', stored!.envelope_id)).toEqual([{ state: 'rejected' }]);
    expect((await forceJson<QueueItem[]>(['triage', 'list'], kit.forceConfig)).map((q) => q.incidentId)).not.toContain(id);
    const noList = await force(['candidates', id], kit.forceConfig);
    expect(noList.code).not.toBe(0);
    // the stranger's photo finds nothing of the rejected incident
    const hits = await forceJson<SearchHit[]>(['search', '--image', path.join(FACES_DIR, 'df10', '1.jpg'), '--reason', 'linking the razor blade thefts'], kit.forceConfig);
    expect(hits.filter((h) => h.incidentId === id)).toEqual([]);

    const fdb = openForceDb(kit.forceDir);
    try {
      expect(fdb.audit.find({ action: 'gallery.searched', objectId: id })).toEqual([]);
      expect(fdb.audit.find({ action: 'triage.rejected', objectId: id })).toHaveLength(1);
      const receipt = fdb.audit.find({ action: 'evidence.deleted', objectId: id });
      expect(receipt).toHaveLength(1);
      expect([...receipt[0]!.sha256s].sort()).toEqual(hashes);
      expect(receipt[0]!.justification).toBe('no offence seen in the footage');
      expect(receipt[0]!.detail).toMatchObject({ files: hashes.length, subjects: 1, why: 'rejected' });
      expect(fdb.audit.verify().ok).toBe(true);
    } finally {
      fdb.close();
    }
    const verify = await force(['incidents', '--verify'], kit.forceConfig);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });
});
