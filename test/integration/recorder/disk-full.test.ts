import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DISK_FULL } from '../../../daemon/src/recorder/disk-guard.js';
import { AlarmsRepo } from '../../../daemon/src/db/repos/alarms.js';
import { CameraStatusRepo } from '../../../daemon/src/db/repos/camera-status.js';
import { GapsRepo } from '../../../daemon/src/db/repos/gaps.js';
import { SegmentsRepo } from '../../../daemon/src/db/repos/segments.js';
import { tempDir } from '../../helpers/paths.js';
import { inProcessDaemon } from '../../helpers/recorder.js';
import { startCamera } from '../../helpers/rtsp-camera.js';
import { waitFor } from '../../helpers/wait.js';

const MB = 1024 * 1024;
const RESERVE_MB = 4;
// a real small file system for the buffer: mounting needs root (tmpfs)
const canMount = process.getuid?.() === 0;

describe('recorder: the buffer disk fills up', () => {
  it.skipIf(!canMount)('pauses with an alarm saying "disk full", records the gap as such and resumes by itself when space returns', async () => {
    const dir = tempDir();
    const buffer = path.join(dir, 'buffer');
    mkdirSync(buffer);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=24m,mode=0750', 'tmpfs', buffer], { encoding: 'utf8' });
    expect(mounted.status, mounted.stderr).toBe(0);
    const camera = await startCamera({ width: 320, height: 240, fps: 10, gop: 10 });
    const { ctx, recorder } = inProcessDaemon(dir, { paths: { state_dir: path.join(dir, 'state'), buffer_dir: buffer }, buffer: { min_free_gb: 0, recording_reserve_mb: RESERVE_MB } });
    afterAll(async () => {
      await recorder.stop();
      ctx.db.close();
      spawnSync('umount', ['-l', buffer]);
    });
    await recorder.cameras.add({ id: 'till1', name: 'Till 1', url: camera.url }, { type: 'cli', id: 'test' });
    const segments = new SegmentsRepo(ctx.db);
    const alarms = new AlarmsRepo(ctx.db, ctx.clock);
    const status = (): ReturnType<CameraStatusRepo['get']> => new CameraStatusRepo(ctx.db).get('till1');
    await recorder.start();
    await waitFor(() => segments.forCamera('till1').length >= 3, { timeoutMs: 30_000, what: 'recording' });

    // something else fills the disk to just under the recording reserve
    const s = statfsSync(buffer);
    const filler = path.join(buffer, 'filler.bin');
    writeFileSync(filler, Buffer.alloc(s.bavail * s.bsize - (RESERVE_MB - 1) * MB));
    const alarm = await waitFor(() => alarms.active(DISK_FULL)[0], { timeoutMs: 10_000, what: 'the disk-full alarm within 10 s' });
    expect(alarm.message).toMatch(/^disk full: \d+\.\d MB free on the buffer disk, under the 4 MB recording reserve/);
    await waitFor(() => status()?.reason?.startsWith('disk full') && status()?.state !== 'recording', { timeoutMs: 10_000, what: 'the camera to say "disk full"' });
    const pausedCount = segments.forCamera('till1').length;
    await new Promise((r) => setTimeout(r, 3000));
    expect(segments.forCamera('till1').length, 'nothing is recorded while paused').toBeLessThanOrEqual(pausedCount + 1);

    rmSync(filler);
    const freedAt = Date.now();
    await waitFor(() => segments.forCamera('till1').some((seg) => seg.startUtcMs > freedAt), { timeoutMs: 30_000, what: 'recording to resume by itself' });
    expect(alarms.active(DISK_FULL), 'the alarm is cleared').toEqual([]);
    const gaps = new GapsRepo(ctx.db).overlapping('till1', 0, Number.MAX_SAFE_INTEGER);
    expect(gaps, 'one gap for the whole outage').toHaveLength(1);
    expect(gaps[0]!.reason).toMatch(/^disk full/);
    expect(gaps[0]!.endUtcMs).not.toBeNull();
    expect(status()?.state).toBe('recording');
  }, 120_000);
});
