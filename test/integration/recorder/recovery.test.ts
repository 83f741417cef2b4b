import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventBus } from '../../../daemon/src/kernel/events.js';
import { silentLogger } from '../../../daemon/src/log/logger.js';
import { CameraIndex, RunCursor } from '../../../daemon/src/recorder/camera-index.js';
import { recordArgs } from '../../../daemon/src/recorder/ffmpeg-args.js';
import { recoverCameraDir } from '../../../daemon/src/recorder/run-files.js';
import { parseSegmentListLine } from '../../../daemon/src/recorder/segment-list.js';
import { openDatabase } from '../../../daemon/src/db/db.js';
import { SegmentsRepo } from '../../../daemon/src/db/repos/segments.js';
import { spawnChild } from '../../../daemon/src/util/child.js';
import { newId } from '../../../daemon/src/util/ids.js';
import { decodeErrors } from '../../helpers/media.js';
import { tempDir } from '../../helpers/paths.js';
import { startCamera } from '../../helpers/rtsp-camera.js';

/** Record with the recorder's own ffmpeg arguments, then kill -9 ffmpeg mid-segment, as a crash would. */
async function crashedRun(url: string, dir: string, seconds: number): Promise<{ runId: string; startedAt: number; killedAt: number }> {
  const runId = newId();
  const target = { camera: { transport: 'tcp' }, resolved: { scheme: 'rtsp' }, secrets: [] } as unknown as Parameters<typeof recordArgs>[0];
  const input = { url, close: async () => undefined };
  const startedAt = Date.now();
  const child = spawnChild('ffmpeg', recordArgs(target, input, { dir, runId }, { segmentSeconds: 1, timeoutS: 5 }));
  await new Promise((r) => setTimeout(r, seconds * 1000 + 500));
  const killedAt = Date.now();
  child.signal('SIGKILL');
  await child.exited;
  return { runId, startedAt, killedAt };
}

describe('recorder: recovery of runs a dead daemon left behind', () => {
  it('indexes listed segments on the wall clock from their file times, salvages the partial one and removes unreadable ones', async () => {
    const dir = tempDir();
    const camera = await startCamera({ width: 320, height: 240, fps: 10, gop: 5 });
    const bufferDir = path.join(dir, 'buffer');
    const camDir = path.join(bufferDir, 'till1');
    mkdirSync(camDir, { recursive: true });
    const db = openDatabase(path.join(dir, 'h.db'));
    const segments = new SegmentsRepo(db);
    const index = new CameraIndex('till1', { db, bus: new EventBus(), log: silentLogger, bufferDir, ffprobe: 'ffprobe' });

    // run A: nothing of it was indexed before the crash
    const a = await crashedRun(camera.url, camDir, 6);
    // run B: its first two segments were indexed live, the rest were not
    const b = await crashedRun(camera.url, camDir, 5);
    const listB = readFileSync(path.join(camDir, `${b.runId}.csv`), 'utf8').split('\n').map(parseSegmentListLine).filter((e) => e !== undefined);
    const live = new RunCursor(b.runId);
    for (const e of listB.slice(0, 2)) index.indexBatch(live, [e], b.startedAt + 600 + e.endS * 1000);
    // a tampered list line pointing outside the camera folder is ignored
    writeFileSync(path.join(camDir, `${b.runId}.csv`), `../../etc/passwd,0.0,1.0\n${a.runId}_000000.ts,0.0,1.0\n`, { flag: 'a' });
    // junk that only looks like a segment of run B
    writeFileSync(path.join(camDir, `${b.runId}_000099.ts`), randomBytes(5000));
    writeFileSync(path.join(camDir, `${b.runId}_000098.ts`), '');

    await recoverCameraDir(index, segments.pathsOfCamera('till1'));

    expect(readdirSync(camDir).filter((f) => f.endsWith('.csv'))).toEqual([]);
    expect(segments.forCamera('till1').every((s) => /^till1\/[0-9A-Z]{26}_\d{6}\.ts$/.test(s.path))).toBe(true);
    expect(existsSync(path.join(camDir, `${b.runId}_000099.ts`)), 'unreadable file removed').toBe(false);
    expect(existsSync(path.join(camDir, `${b.runId}_000098.ts`)), 'empty file removed').toBe(false);
    for (const run of [a, b]) {
      const rows = segments.forCamera('till1').filter((s) => s.runId === run.runId);
      const files = readdirSync(camDir).filter((f) => f.startsWith(run.runId)).map((f) => `till1/${f}`);
      expect(rows.map((r) => r.path).sort(), 'every file of the run is indexed').toEqual(files.sort());
      expect(rows.filter((r) => r.recovered)).toHaveLength(1);
      expect(rows[rows.length - 1]!.recovered).toBe(true);
      for (let i = 1; i < rows.length; i++) expect(rows[i]!.startUtcMs).toBe(rows[i - 1]!.endUtcMs);
      // placed on the wall clock where it was recorded: after ffmpeg started, ending when it was killed
      expect(rows[0]!.startUtcMs).toBeGreaterThanOrEqual(run.startedAt);
      expect(Math.abs(rows[rows.length - 1]!.endUtcMs - run.killedAt)).toBeLessThanOrEqual(1000);
      for (const r of rows) expect(await decodeErrors(path.join(bufferDir, r.path))).toBe('');
    }
    db.close();
  });
});
