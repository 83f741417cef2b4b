import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditLog, GENESIS_HASH } from '../../../daemon/src/audit/log.js';
import { openDatabase } from '../../../daemon/src/db/db.js';
import { ManualClock } from '../../../daemon/src/util/clock.js';
import { runCli, writeConfig } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/paths.js';

function freshLog(): { log: AuditLog; db: ReturnType<typeof openDatabase>; file: string; dir: string } {
  const dir = tempDir();
  const file = path.join(dir, 'state', 'hindsight.db');
  const db = openDatabase(file);
  const log = new AuditLog(db, new ManualClock(Date.UTC(2026, 10, 1, 9)), () => ({ synced: true, offset_ms: 1.5, source: 'chrony' }));
  return { log, db, file, dir };
}

function fill(log: AuditLog, n: number): void {
  for (let i = 0; i < n; i++) {
    log.append({ actor: { type: 'user', id: `staff-${i}`, role: 'staff' }, action: 'incident.logged', objectIds: [`INC${i}`], justification: 'shoplifting at till 2', detail: { i } });
  }
}

describe('audit log', () => {
  it('chains rows by hash from the genesis value, with clock state and actor', () => {
    const { log } = freshLog();
    fill(log, 3);
    const rows = [...log.rows()];
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(rows[0]?.prev_hash).toBe(GENESIS_HASH);
    expect(rows[1]?.prev_hash).toBe(rows[0]?.hash);
    expect(rows[2]?.clock).toEqual({ synced: true, offset_ms: 1.5 });
    expect(rows[2]?.actor).toEqual({ type: 'user', id: 'staff-2', role: 'staff' });
    expect(log.verify()).toEqual({ ok: true, count: 3, headHash: rows[2]?.hash });
    expect(log.head()).toMatchObject({ count: 3, head_hash: rows[2]?.hash });
  });

  it('refuses UPDATE and DELETE through triggers', () => {
    const { log, db } = freshLog();
    fill(log, 2);
    expect(() => db.prepare("UPDATE audit SET action = 'nothing' WHERE seq = 1").run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM audit WHERE seq = 2').run()).toThrow(/append-only/);
    expect(log.verify().ok).toBe(true);
  });

  it('names the first altered row after the trigger is dropped and a row edited', () => {
    const { log, db } = freshLog();
    fill(log, 5);
    db.exec('DROP TRIGGER audit_no_update');
    db.prepare("UPDATE audit SET justification = 'nothing happened' WHERE seq = 3").run();
    const r = log.verify();
    expect(r.ok).toBe(false);
    expect(r.firstBad).toMatchObject({ seq: 3, reason: expect.stringMatching(/content does not match/) });
    expect(r.count).toBe(2);
  });

  it('detects a removed row and a rewritten chain link', () => {
    const a = freshLog();
    fill(a.log, 4);
    a.db.exec('DROP TRIGGER audit_no_delete');
    a.db.prepare('DELETE FROM audit WHERE seq = 2').run();
    expect(a.log.verify().firstBad).toMatchObject({ seq: 3, reason: expect.stringMatching(/sequence jumps/) });

    const b = freshLog();
    fill(b.log, 4);
    b.db.exec('DROP TRIGGER audit_no_update');
    // recompute nothing, only relink: row 3 now claims a different predecessor
    b.db.prepare(`UPDATE audit SET prev_hash = '${'f'.repeat(64)}' WHERE seq = 3`).run();
    expect(b.log.verify().firstBad).toMatchObject({ seq: 3, reason: expect.stringMatching(/link/) });
  });

  it('joins the caller transaction: a rolled back change leaves no audit row', () => {
    const { log, db } = freshLog();
    expect(() =>
      db.transaction(() => {
        log.append({ actor: { type: 'system', id: 'test' }, action: 'camera.added' });
        throw new Error('change failed');
      })(),
    ).toThrow('change failed');
    expect(log.head().count).toBe(0);
  });

  it('`hindsight audit verify` and `export` work on the daemon database', async () => {
    const { log, db, dir } = freshLog();
    fill(log, 3);
    db.close();
    const config = writeConfig(dir);
    const ok = await runCli(['audit', 'verify', '--config', config]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/ok: 3 audit rows/);
    const exported = await runCli(['audit', 'export', '--config', config, '--from', '2']);
    const lines = exported.stdout.trim().split('\n').map((l) => JSON.parse(l) as { seq: number });
    expect(lines.map((l) => l.seq)).toEqual([2, 3]);

    const raw = openDatabase(path.join(dir, 'state', 'hindsight.db'));
    raw.exec('DROP TRIGGER audit_no_update');
    raw.prepare("UPDATE audit SET detail = '{\"i\":99}' WHERE seq = 2").run();
    raw.close();
    const bad = await runCli(['audit', 'verify', '--config', config]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/ALTERED: audit row 2 /);
  });
});
