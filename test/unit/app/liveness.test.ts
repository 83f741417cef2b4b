import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { Liveness } from '../../../daemon/src/app/liveness.js';
import { openDatabase } from '../../../daemon/src/db/db.js';
import { MetaRepo } from '../../../daemon/src/db/repos/meta.js';
import type { Service } from '../../../daemon/src/kernel/service.js';
import { runCommand } from '../../../daemon/src/util/child.js';
import { REPO_ROOT, tempDir } from '../../helpers/paths.js';

const service = (name: string, why: () => string | undefined): Service => ({ name, start: () => undefined, stop: () => undefined, liveness: why });

describe('liveness: what the systemd watchdog is fed on', () => {
  const open = () => {
    const file = path.join(tempDir('hs-liveness-'), 'state.db');
    return { file, db: openDatabase(file) };
  };

  it('healthy: the loop answers, the database takes a write (the time of the check), every service turns', async () => {
    const { db } = open();
    const live = new Liveness({ db, services: () => [service('recorder', () => undefined), service('uplink', () => undefined)], now: () => 1234, limits: { minUtilizationWindowMs: 60_000 } });
    await sleep(50);
    expect(live.check()).toEqual([]);
    expect(new MetaRepo(db).get('watchdog.checked_utc')).toBe('1234');
    live.stop();
    db.close();
  });

  it('a service that stopped turning, or whose check throws, is named with its reason', async () => {
    const { db } = open();
    const live = new Liveness({
      db,
      services: () => [service('recorder', () => 'no camera reload round has finished for 75 s'), service('incidents', () => { throw new Error('boom'); }), { name: 'web', start: () => undefined, stop: () => undefined }],
      now: () => 1,
      limits: { minUtilizationWindowMs: 60_000 },
    });
    expect(live.check()).toEqual(['recorder: no camera reload round has finished for 75 s', 'incidents: its check failed: boom']);
    live.stop();
    db.close();
  });

  it('an event loop blocked past the limit, or busy all the time (spinning), is unhealthy; the next quiet window is healthy again', async () => {
    // in a plain node process (the daemon's own kind): a test runner's process keeps its event loop busy
    const dir = tempDir('hs-liveness-loop-');
    const script = `
      const { Liveness } = await import(${JSON.stringify(pathToFileURL(path.join(REPO_ROOT, 'daemon/dist/app/liveness.js')).href)});
      const { openDatabase } = await import(${JSON.stringify(pathToFileURL(path.join(REPO_ROOT, 'daemon/dist/db/db.js')).href)});
      const db = openDatabase(${JSON.stringify(path.join(dir, 'state.db'))});
      const live = new Liveness({ db, services: () => [], now: () => 1, limits: { maxLoopDelayMs: 400, maxLoopUtilization: 0.9, minUtilizationWindowMs: 500 } });
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      const spin = (ms) => { const end = performance.now() + ms; while (performance.now() < end) {} };
      const out = {};
      await sleep(600);
      out.quiet = live.check();
      spin(1500);
      await sleep(20);
      out.blocked = live.check();
      // busy in short steps that each yield: never blocked long, but the loop does nothing else
      const until = performance.now() + 1000;
      while (performance.now() < until) { spin(40); await new Promise((r) => setImmediate(r)); }
      out.spinning = live.check();
      await sleep(700);
      out.again = live.check();
      live.stop(); db.close();
      process.stdout.write(JSON.stringify(out));`;
    const r = await runCommand(process.execPath, ['--input-type=module', '-e', script], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.toString()) as Record<string, string[]>;
    expect(out.quiet).toEqual([]);
    expect(out.blocked!.join('\n')).toMatch(/the event loop was blocked for \d+ ms at once \(limit 400 ms\)/);
    expect(out.spinning).toHaveLength(1);
    expect(out.spinning![0]).toMatch(/the event loop was busy \d+ % of the last [\d.]+ s \(it is spinning\)/);
    expect(out.again).toEqual([]);
  });

  it('a database that takes no write (another process holds it locked) is unhealthy; once released, healthy', async () => {
    const { file, db } = open();
    db.pragma('busy_timeout = 100');
    const other = new Database(file);
    other.exec('BEGIN EXCLUSIVE');
    const live = new Liveness({ db, services: () => [], now: () => 7, limits: { minUtilizationWindowMs: 60_000 } });
    expect(live.check().join('\n')).toMatch(/the database takes no write: database is locked/);
    other.exec('COMMIT');
    other.close();
    expect(live.check()).toEqual([]);
    live.stop();
    db.close();
  });
});
