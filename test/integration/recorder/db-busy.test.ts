import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnChild } from '../../../daemon/src/util/child.js';
import { startDaemon, writeConfig } from '../../helpers/cli.js';
import { addCamera, readDb, waitForFootage } from '../../helpers/incidents.js';
import { tempDir } from '../../helpers/paths.js';
import type { TestProcess } from '../../helpers/process.js';
import { recorderConfigOverrides } from '../../helpers/recorder.js';
import { startCamera } from '../../helpers/rtsp-camera.js';

/** Another process takes the database's write lock, writes, and commits after `ms`. */
async function holdWriteLock(stateDir: string, ms: number): Promise<{ lockedAt: number; releasedAt: number }> {
  const holder = spawnChild(process.execPath, [
    '-e',
    `const D = require(${JSON.stringify(require.resolve('better-sqlite3'))});
     const db = new D(${JSON.stringify(path.join(stateDir, 'hindsight.db'))});
     db.exec('BEGIN IMMEDIATE'); db.prepare("INSERT INTO meta (key, value) VALUES ('operator', 'x') ON CONFLICT (key) DO UPDATE SET value = 'y'").run(); console.log('LOCKED');
     setTimeout(() => { db.exec('COMMIT'); db.close(); }, ${ms});`,
  ]);
  await new Promise<void>((resolve) => holder.proc.stdout?.on('data', (d: Buffer) => d.toString().includes('LOCKED') && resolve()));
  const lockedAt = Date.now();
  await holder.exited;
  return { lockedAt, releasedAt: Date.now() };
}

/**
 * Another process (an operator's CLI) writes to the database and holds its write lock for a while as
 * segments close: the daemon waits its turn (its transactions begin IMMEDIATE: a deferred one that read
 * first would fail at once with SQLITE_BUSY once the other process commits), keeps running and indexes
 * every segment.
 */
describe('recorder with a database locked by another process', () => {
  let daemon: TestProcess | undefined;
  afterAll(async () => {
    await daemon?.stop();
  });

  /** A daemon recording one test camera, once `segments` of it are indexed; returns its state folder. */
  async function recordOneCamera(segments: number): Promise<{ stateDir: string; daemon: TestProcess }> {
    const dir = tempDir();
    const camera = await startCamera({ width: 320, height: 240, fps: 10, gop: 10 });
    const config = writeConfig(dir, recorderConfigOverrides({ recorder: { segment_seconds: 1, rtsp_timeout_s: 10 } }));
    await addCamera(config, 'cam1', camera.url);
    await daemon?.stop();
    daemon = startDaemon(config);
    await daemon.waitForLine(/"msg":"hindsight running"/, 60_000);
    await waitForFootage(path.join(dir, 'state'), ['cam1'], segments);
    return { stateDir: path.join(dir, 'state'), daemon };
  }

  it('loses no segment and keeps running while another process writes and holds the lock for 3 s', async () => {
    const { stateDir, daemon } = await recordOneCamera(5);

    const { lockedAt, releasedAt } = await holdWriteLock(stateDir, 3000);
    await new Promise((r) => setTimeout(r, 4000));

    expect(daemon.child.running).toBe(true);
    const db = readDb(stateDir);
    const segs = db.prepare("SELECT path, start_utc_ms, end_utc_ms FROM segments WHERE camera_id = 'cam1' ORDER BY start_utc_ms").all() as { path: string; start_utc_ms: number; end_utc_ms: number }[];
    const gaps = db.prepare("SELECT count(*) FROM gaps WHERE camera_id = 'cam1'").pluck().get() as number;
    db.close();
    // contiguous: each segment starts where the previous ended (within a frame), through the locked period
    for (let i = 1; i < segs.length; i++) expect(Math.abs(segs[i]!.start_utc_ms - segs[i - 1]!.end_utc_ms), segs[i]!.path).toBeLessThanOrEqual(150);
    expect(segs[0]!.start_utc_ms).toBeLessThan(lockedAt);
    expect(segs[segs.length - 1]!.end_utc_ms).toBeGreaterThan(releasedAt + 1000);
    expect(gaps).toBe(0);
    expect(daemon.output).not.toMatch(/database is locked/);
  });

  // The alarm's own write meets the same lock: it is retried every second until it gets through.
  it('says so with an alarm (reason included) when writes fail for longer than the lock wait, and loses no segment', async () => {
    const { stateDir, daemon } = await recordOneCamera(3);
    // longer than the daemon's busy timeout (5 s): its writes fail meanwhile
    const { releasedAt } = await holdWriteLock(stateDir, 9000);
    await daemon.waitForLine(/the recorder cannot write to the database: database is locked/, 10_000);
    await new Promise((r) => setTimeout(r, 4000));
    expect(daemon.child.running).toBe(true);
    const db = readDb(stateDir);
    const alarms = db.prepare("SELECT message, cleared_utc_ms FROM alarms WHERE kind = 'recorder.db_write_failed'").all() as { message: string; cleared_utc_ms: number | null }[];
    const segs = db.prepare("SELECT start_utc_ms, end_utc_ms FROM segments WHERE camera_id = 'cam1' ORDER BY start_utc_ms").all() as { start_utc_ms: number; end_utc_ms: number }[];
    db.close();
    expect(alarms).toEqual([{ message: expect.stringMatching(/^the recorder cannot write to the database: database is locked/), cleared_utc_ms: expect.any(Number) }]);
    for (let i = 1; i < segs.length; i++) expect(Math.abs(segs[i]!.start_utc_ms - segs[i - 1]!.end_utc_ms)).toBeLessThanOrEqual(150);
    expect(segs[segs.length - 1]!.end_utc_ms).toBeGreaterThan(releasedAt + 1000);
  }, 90_000);
});
