import { chmodSync, cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../daemon/src/audit/log.js';
import { MIGRATIONS } from '../../../daemon/src/db/migrations/index.js';
import { systemClock } from '../../../daemon/src/util/clock.js';
import { FORCE_MIGRATIONS } from '../../../daemon/src/force/db/migrations.js';
import { runCli, startDaemon } from '../../helpers/cli.js';
import { REPO_ROOT, tempDir } from '../../helpers/paths.js';
import type { TestProcess } from '../../helpers/process.js';

/**
 * An upgrade from the previous release: test/fixtures/upgrade/<release>/ holds what that release's demo left
 * behind (made by scripts/upgrade-fixture.mjs from its commit: a box that delivered an incident, a force
 * that received it, triaged it and listed candidates), databases and configs as that release wrote them.
 * This release must carry all of it on: the box's config of that format, its database, incidents, cameras
 * and audit chain; the force's database migrated forward after a copy of it as it was (the rollback), with
 * its evidence, triage, candidates and audit chain. Git keeps no file modes: the keys get back the 0600 the
 * release gave them.
 */
const RELEASE = '85cdcf8';
const FIXTURE = path.join(REPO_ROOT, 'test', 'fixtures', 'upgrade', RELEASE);
const release = JSON.parse(readFileSync(path.join(FIXTURE, 'release.json'), 'utf8')) as {
  box_schema: number;
  force_schema: number;
  demo: { incident: string; candidates: { subjectId: string; personRefs: string[] }[] };
};
const latest = (m: readonly { version: number }[]) => m[m.length - 1]!.version;

/** Every table's rows, in a stable order: what a database holds, to compare two of them. */
function contents(file: string): Record<string, unknown[]> {
  const db = new Database(file, { readonly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[];
    return Object.fromEntries(tables.map(({ name }) => [name, db.prepare(`SELECT * FROM "${name}" ORDER BY 1, 2`).raw().all()]));
  } finally {
    db.close();
  }
}

function query<T>(file: string, sql: string): T[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

function auditOf(file: string) {
  const db = new Database(file, { readonly: true });
  try {
    return new AuditLog(db, systemClock).verify();
  } finally {
    db.close();
  }
}

describe(`upgrade from the previous release (${RELEASE})`, () => {
  let root: string;
  let daemon: TestProcess | undefined;
  const box = (f = '') => path.join(root, 'box', f);
  const force = (f = '') => path.join(root, 'force', f);

  beforeAll(() => {
    root = tempDir('hs-upgrade-');
    cpSync(FIXTURE, root, { recursive: true });
    for (const f of ['box/config.yaml', 'force/force.yaml']) writeFileSync(path.join(root, f), readFileSync(path.join(root, f), 'utf8').replaceAll('@STATE@', root));
    for (const d of ['box/keys', 'force/keys']) {
      chmodSync(path.join(root, d), 0o700);
      for (const k of readdirSync(path.join(root, d))) chmodSync(path.join(root, d, k), 0o600);
    }
    chmodSync(force('mqtt/force.password'), 0o600);
  });
  afterAll(async () => {
    await daemon?.stop();
  });

  it('the fixture is the previous release: schemas this release knows, the force one behind it', () => {
    expect(release.box_schema).toBeLessThanOrEqual(latest(MIGRATIONS));
    expect(release.force_schema).toBeLessThan(latest(FORCE_MIGRATIONS));
  });

  it("box: its config checks, and the daemon runs on its database with the same incident, camera and audit chain", async () => {
    const cfg = ['--config', box('config.yaml')];
    const asReleased = contents(box('hindsight.db'));
    const before = { audit: auditOf(box('hindsight.db')), incidents: query<{ id: string; state: string }>(box('hindsight.db'), 'SELECT id, state FROM incidents'), cameras: query<{ id: string }>(box('hindsight.db'), 'SELECT id FROM cameras') };
    expect(before.audit.ok).toBe(true);
    expect(before.incidents).toEqual([{ id: release.demo.incident, state: 'delivered' }]);

    const check = await runCli(['config', 'check', box('config.yaml')]);
    expect(check.code, check.stderr).toBe(0);

    daemon = startDaemon(box('config.yaml'));
    await daemon.waitForLine(/hindsight running/, 60_000);
    const listed = await runCli(['incident', 'list', '--json', ...cfg]);
    expect(listed.code, listed.stderr).toBe(0);
    const incidents = JSON.parse(listed.stdout) as { id: string; state: string }[];
    expect(incidents.map((i) => [i.id, i.state])).toEqual([[release.demo.incident, 'delivered']]);
    const cams = await runCli(['camera', 'list', '--json', ...cfg]);
    expect(cams.code, cams.stderr).toBe(0);
    expect((JSON.parse(cams.stdout) as { id: string }[]).map((c) => c.id)).toEqual(before.cameras.map((c) => c.id));
    await daemon.stop();
    daemon = undefined;

    // a database of an older schema is copied as it was before the daemon migrates it (the rollback); one of
    // this schema is not migrated, so not copied
    if (release.box_schema < latest(MIGRATIONS)) {
      const copies = readdirSync(box('backups'));
      expect(copies).toHaveLength(1);
      expect(contents(box(`backups/${copies[0]}`))).toEqual(asReleased);
    } else {
      expect(existsSync(box('backups'))).toBe(false);
    }

    // the chain the release wrote goes on: the new rows (this start) extend it
    const verified = await runCli(['audit', 'verify', ...cfg]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    const after = auditOf(box('hindsight.db'));
    expect(after.ok).toBe(true);
    expect(after.count).toBeGreaterThan(before.audit.count);
    expect(query<{ hash: string }>(box('hindsight.db'), `SELECT hash FROM audit WHERE seq = ${before.audit.count}`)[0]!.hash).toBe(before.audit.headHash);
  }, 120_000);

  it('force: the first command migrates its database after a copy of it as it was; evidence, triage, candidates and audit chain carry on', async () => {
    const cfg = ['--config', force('force.yaml')];
    const asReleased = contents(force('force.db'));
    const auditBefore = auditOf(force('force.db'));
    expect(auditBefore.ok).toBe(true);

    const listed = await runCli(['force', 'incidents', '--json', ...cfg]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stderr).toMatch(new RegExp(`database upgraded from schema version ${release.force_schema}; its previous state is kept in .*backups/force\\.schema-${release.force_schema}\\.`));
    expect((JSON.parse(listed.stdout) as { incidents: { incident_id: string; status: string }[] }).incidents.map((i) => [i.incident_id, i.status])).toEqual([[release.demo.incident, 'ok']]);
    expect(query<{ v: number }>(force('force.db'), 'SELECT user_version AS v FROM pragma_user_version')[0]!.v).toBe(latest(FORCE_MIGRATIONS));

    // the copy is the release's database, row for row: putting it back is the rollback to that release
    const copies = readdirSync(force('backups'));
    expect(copies).toHaveLength(1);
    const copy = force(`backups/${copies[0]}`);
    expect(statSync(copy).mode & 0o777).toBe(0o600);
    expect(query<{ v: number }>(copy, 'SELECT user_version AS v FROM pragma_user_version')[0]!.v).toBe(release.force_schema);
    expect(contents(copy)).toEqual(asReleased);

    // a second command finds nothing to migrate and copies nothing
    const again = await runCli(['force', 'triage', 'list', '--json', ...cfg]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toMatch(/database upgraded/);
    expect(readdirSync(force('backups'))).toHaveLength(1);

    // the triage and the candidate lists the release made are still there, the same
    const lists = await runCli(['force', 'candidates', release.demo.incident, '--json', ...cfg]);
    expect(lists.code, lists.stderr).toBe(0);
    const got = (JSON.parse(lists.stdout) as { lists: { subjectId: string; candidates: { personRef: string }[] }[] }).lists;
    expect(got.map((l) => ({ subjectId: l.subjectId, personRefs: l.candidates.map((c) => c.personRef) }))).toEqual(release.demo.candidates);

    // its audit chain: the release's rows unchanged, this release's looks (the candidates) appended after them
    const auditAfter = auditOf(force('force.db'));
    expect(auditAfter.ok).toBe(true);
    expect(auditAfter.count).toBeGreaterThan(auditBefore.count);
    expect(query<{ hash: string }>(force('force.db'), `SELECT hash FROM audit WHERE seq = ${auditBefore.count}`)[0]!.hash).toBe(auditBefore.headHash);
  }, 120_000);
});
