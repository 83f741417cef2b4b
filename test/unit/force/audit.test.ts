import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRow } from '../../../daemon/src/audit/log.js';
import { openForceDb } from '../../../daemon/src/force/database.js';
import { listIncidents } from '../../../daemon/src/force/open.js';
import { runCommand } from '../../../daemon/src/util/child.js';
import { makePackageFolder } from '../../helpers/evidence.js';
import { syncedClockPath } from '../../helpers/clock.js';
import { ForceStoreBuilder } from '../../helpers/force-intake.js';
import { REPO_ROOT, tempDir } from '../../helpers/paths.js';

/** Face photos for the `--image` case (never copied into the project), as in the face search test. */
const FACES_DIR = process.env.HINDSIGHT_FACES_DIR ?? path.join(REPO_ROOT, '..', 'shared', 'faces', 'dev');
/** The force's own program, `hindsight-force`. */
const FORCE = path.join(REPO_ROOT, 'daemon', 'dist', 'force', 'main.js');

/**
 * The force's own audit: who searched (with why and with which probe), who opened or extracted which
 * incident and where to, who re-verified the store; each row with the clock's real NTP state (from
 * `chronyc`, here a stand-in on PATH: see syncedClockPath).
 */
describe('force-side audit: searches, openings, extractions and verifications are recorded with who, why and the clock state', () => {
  let dir: string;
  let force: ForceStoreBuilder;
  let config: string;
  let env: NodeJS.ProcessEnv;
  const login = os.userInfo().username;

  beforeAll(async () => {
    dir = tempDir('hs-force-audit-');
    force = new ForceStoreBuilder(dir);
    const crops = (await makePackageFolder(path.join(dir, 'crops'), { subjects: 1, crops: 1 })).workingFiles.filter((f) => f.endsWith('.jpg'));
    await force.addIncident('box-1', 'Store 1', 'inc-1', [{ crops, embedding: new Float32Array(16).fill(0.25) }]);
    config = path.join(force.forceDir, 'force.yaml');
    env = { PATH: syncedClockPath(dir) };
  });
  afterAll(() => force?.close());

  const forceCli = async (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> => {
    const r = await runCommand(process.execPath, [FORCE, ...args], { env: { ...process.env, ...env }, timeoutMs: 120_000 });
    return { code: r.code, stdout: r.stdout.toString('utf8'), stderr: r.stderr };
  };
  const rows = (action: string): AuditRow[] => {
    const fdb = openForceDb(force.forceDir);
    try {
      return fdb.audit.find({ action });
    } finally {
      fdb.close();
    }
  };
  const byOperator = (row: AuditRow | undefined): void => {
    expect(row?.actor).toEqual({ type: 'cli', id: login });
    expect(row?.clock).toEqual({ synced: true, offset_ms: 1.5 });
  };

  it('`force search` needs a justification of at least three words (exit 2, nothing searched)', async () => {
    const probe = path.join(dir, 'probe.f32');
    writeFileSync(probe, Buffer.from(new Float32Array(16).fill(0.25).buffer));
    for (const reason of [[], ['--reason', ''], ['--reason', 'ref 42'], ['--reason', '- - -']]) {
      const r = await forceCli(['search', '--embedding', probe, '--config', config, ...reason]);
      expect([r.code, r.stderr], reason.join(' ')).toEqual([2, expect.stringMatching(/--reason must say why, in at least three words/)]);
    }
    expect(rows('evidence.searched')).toEqual([]);
  });

  it('`force search` records the justification, the SHA-256 of the probe it read, the operator and the clock state', async () => {
    const probe = path.join(dir, 'probe.f32');
    const r = await forceCli(['search', '--embedding', probe, '--reason', 'linking shop thefts, case 42', '--config', config]);
    expect(r.code, r.stderr).toBe(0);
    const row = rows('evidence.searched').at(-1);
    expect(row?.justification).toBe('linking shop thefts, case 42');
    expect(row?.sha256s).toEqual([createHash('sha256').update(readFileSync(probe)).digest('hex')]);
    byOperator(row);
  });

  it('`force search --image` records the SHA-256 of the photo it embedded', async (ctx) => {
    const people = existsSync(FACES_DIR) ? readdirSync(FACES_DIR, { withFileTypes: true }).filter((d) => d.isDirectory() && !d.name.startsWith('_')) : [];
    const photo = people.map((d) => readdirSync(path.join(FACES_DIR, d.name)).filter((f) => /\.jpe?g$/i.test(f)).map((f) => path.join(FACES_DIR, d.name, f))[0]).find(Boolean);
    if (!photo) {
      console.warn(`skipped: no face photos at ${FACES_DIR} (set HINDSIGHT_FACES_DIR)`);
      return ctx.skip();
    }
    const r = await forceCli(['search', '--image', photo, '--reason', 'linking shop thefts, case 43', '--config', config]);
    expect(r.code, r.stderr).toBe(0);
    const row = rows('evidence.searched').at(-1);
    expect([row?.justification, row?.detail.probe]).toEqual(['linking shop thefts, case 43', 'image']);
    expect(row?.sha256s).toEqual([createHash('sha256').update(readFileSync(photo)).digest('hex')]);
    byOperator(row);
  });

  it('`force open` and its extraction are audited: who, which incident, from and to where (a failed opening too)', async () => {
    const inc = listIncidents(force.fdb.db)[0]!;
    const out = path.join(dir, 'opened');
    const r = await forceCli(['open', inc.dir, '--out', out, '--config', config]);
    expect(r.code, r.stderr).toBe(0);
    const opened = rows('evidence.opened').at(-1);
    expect(opened?.object_ids).toEqual([inc.incident_id, inc.envelope_id]);
    expect(opened?.detail).toMatchObject({ folder: inc.dir, out, device: 'box-1' });
    byOperator(opened);
    const extracted = rows('evidence.extracted').at(-1);
    expect(extracted?.object_ids).toEqual([inc.incident_id, inc.envelope_id]);
    expect(extracted?.detail).toMatchObject({ out, files: expect.any(Number) });
    expect(extracted?.sha256s.length).toBe(extracted?.detail.files);
    byOperator(extracted);

    const broken = path.join(dir, 'broken');
    mkdirSync(broken);
    writeFileSync(path.join(broken, 'manifest.json'), readFileSync(path.join(inc.dir, 'envelope', 'manifest.json')));
    writeFileSync(path.join(broken, 'body.bin'), Buffer.alloc(10));
    const bad = await forceCli(['open', broken, '--config', config]);
    expect(bad.code).toBe(1);
    const failed = rows('evidence.opened').at(-1);
    expect([failed?.result, failed?.detail.folder]).toEqual(['error', broken]);
    byOperator(failed);
  });

  it('`force incidents --verify` is audited with what was checked and what failed', async () => {
    const r = await forceCli(['incidents', '--verify', '--config', config]);
    expect(r.code, r.stderr).toBe(0);
    const row = rows('evidence.verified').at(-1);
    expect(row?.object_ids).toEqual([listIncidents(force.fdb.db)[0]!.envelope_id]);
    expect(row?.detail).toEqual({ checked: 1, failed: [] });
    byOperator(row);
  });

  it('the other force commands record the operator and the clock state too', async () => {
    const r = await forceCli(['revoke', '--dir', force.forceDir, '--device', 'box-1', '--reason', 'box stolen from the shop']);
    expect(r.code, r.stderr).toBe(0);
    byOperator(rows('device.revoked').at(-1));
  });
});
