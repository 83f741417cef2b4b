import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCKED_OVER_QUOTA } from '../../../daemon/src/recorder/retention.js';
import { AlarmsRepo } from '../../../daemon/src/db/repos/alarms.js';
import { EvidenceLocks } from '../../../daemon/src/db/repos/evidence-locks.js';
import { GapsRepo } from '../../../daemon/src/db/repos/gaps.js';
import { SegmentsRepo } from '../../../daemon/src/db/repos/segments.js';
import { tempDir } from '../../helpers/paths.js';
import { inProcessDaemon } from '../../helpers/recorder.js';
import { startCamera } from '../../helpers/rtsp-camera.js';
import { waitFor } from '../../helpers/wait.js';

const ACTOR = { type: 'cli', id: 'test' } as const;

describe('recorder: evidence locks against the quota', () => {
  it('stops recording the camera whose locked footage fills the quota, with an alarm, deletes no locked segment, and resumes when the lock is released', async () => {
    const dir = tempDir();
    const [till, door] = await Promise.all([startCamera({ width: 320, height: 240, fps: 10, gop: 10, bitrateKbps: 400 }), startCamera({ width: 320, height: 240, fps: 10, gop: 10, bitrateKbps: 400 })]);
    // a 400 kB quota: about 8 s of one of these cameras
    const { ctx, recorder, retention } = inProcessDaemon(dir, { buffer: { quota_gb: 400_000 / 1024 ** 3, retention_interval_s: 1 } });
    afterAll(async () => {
      await recorder.stop();
      retention.stop();
      ctx.db.close();
    });
    await recorder.cameras.add({ id: 'till', name: 'Till', url: till.url }, ACTOR);
    await recorder.cameras.add({ id: 'door', name: 'Door', url: door.url }, ACTOR);
    const locks = new EvidenceLocks(ctx.db, ctx.clock);
    const now = Date.now();
    ctx.db.transaction(() => locks.acquire('INC-1', 'till', now - 60_000, now + 600_000))();
    retention.start();
    await recorder.start();

    const alarms = new AlarmsRepo(ctx.db, ctx.clock);
    const status = (id: string) => recorder.statuses().find((s) => s.cameraId === id)!;
    await waitFor(() => status('till').state === 'failed', { timeoutMs: 40_000, what: 'the locked camera to stop' });
    expect(status('till').reason).toMatch(/recording stopped: evidence-locked footage \(.+ GB\) fills the buffer quota/);
    expect(alarms.active(LOCKED_OVER_QUOTA)).toEqual([expect.objectContaining({ subject: 'till' })]);
    const segments = new SegmentsRepo(ctx.db);
    await new Promise((r) => setTimeout(r, 2000)); // ffmpeg closes its last segment as it stops
    const kept = segments.forCamera('till');
    expect(kept.length).toBeGreaterThan(0);
    // it stays stopped, none of its locked footage is deleted, and the other camera goes on recording
    await new Promise((r) => setTimeout(r, 4000));
    expect(status('till').state).toBe('failed');
    expect(segments.forCamera('till').map((s) => s.path)).toEqual(kept.map((s) => s.path));
    for (const s of kept) expect(existsSync(path.join(ctx.paths.bufferDir, s.path))).toBe(true);
    expect(status('door').state).toBe('recording');
    expect(new GapsRepo(ctx.db).openGap('till')?.reason).toMatch(/evidence-locked footage/);
    expect(ctx.audit.find({ action: 'buffer.deleted' }).every((r) => !r.object_ids.includes('till'))).toBe(true);

    // releasing the lock lets retention clear the alarm, and the camera records again
    const releasedAt = Date.now();
    ctx.db.transaction(() => locks.releaseAll('INC-1'))();
    await waitFor(() => segments.forCamera('till').some((s) => s.startUtcMs > releasedAt), { timeoutMs: 30_000, what: 'the camera to record again' });
    expect(alarms.active(LOCKED_OVER_QUOTA)).toEqual([]);
    expect(ctx.audit.find({ action: 'alarm.raised' })).toHaveLength(1);
    expect(ctx.audit.find({ action: 'alarm.cleared' })).toHaveLength(1);
    expect(ctx.audit.verify().ok).toBe(true);
  });
});
