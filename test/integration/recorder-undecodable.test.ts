import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UNDECODABLE } from '../../daemon/src/recorder/service.js';
import { AlarmsRepo } from '../../daemon/src/store/repos/alarms.js';
import { CameraStatusRepo, type RecorderState } from '../../daemon/src/store/repos/camera-status.js';
import { SegmentsRepo } from '../../daemon/src/store/repos/segments.js';
import { makeGarbageVideo } from '../helpers/media.js';
import { tempDir } from '../helpers/paths.js';
import { inProcessDaemon } from '../helpers/recorder.js';
import { startCamera } from '../helpers/rtsp-camera.js';
import { waitFor } from '../helpers/wait.js';

describe('recorder: a camera whose video does not decode', () => {
  it('leaves `recording` for `undecodable` within 30 s with an alarm, keeps recording, and leaves a good camera alone', async () => {
    const dir = tempDir();
    const garbageFile = await makeGarbageVideo(path.join(dir, 'garbage.ts'), { seconds: 90, width: 320, height: 240, fps: 10, gop: 10 });
    const [garbage, clean] = await Promise.all([startCamera({ mode: 'file', file: garbageFile }), startCamera({ width: 320, height: 240, fps: 10, gop: 10 })]);
    // the default check interval: the verdict must come within 30 s as shipped
    const { ctx, recorder } = inProcessDaemon(dir, { recorder: { segment_seconds: 2, decode_check_interval_s: 10 } });
    afterAll(async () => {
      await recorder.stop();
      ctx.db.close();
    });
    for (const [id, url] of [['garbage', garbage.url], ['clean', clean.url]] as const) await recorder.cameras.add({ id, name: id, url }, { type: 'cli', id: 'test' });
    const states: { camera: string; state: RecorderState; at: number }[] = [];
    ctx.bus.on('camera.state', (s) => states.push({ camera: s.cameraId, state: s.state, at: Date.now() }));
    await recorder.start();
    const recordingAt = (await waitFor(() => states.find((s) => s.camera === 'garbage' && s.state === 'recording'), { timeoutMs: 30_000, what: 'the garbage camera recording' })).at;
    const judged = await waitFor(() => states.find((s) => s.camera === 'garbage' && s.state === 'undecodable'), { timeoutMs: 40_000, what: 'the undecodable state' });
    expect(judged.at - recordingAt, 'judged within 30 s of recording').toBeLessThan(30_000);

    const statuses = new CameraStatusRepo(ctx.db);
    expect(statuses.get('garbage')).toMatchObject({ state: 'undecodable', reason: expect.stringMatching(/video does not decode/), spawns: 1 });
    const alarms = new AlarmsRepo(ctx.db, ctx.clock).active(UNDECODABLE);
    expect(alarms.map((a) => a.subject)).toEqual(['garbage']);
    expect(alarms[0]!.message).toMatch(/camera garbage: the camera's video does not decode/);
    // recording goes on (the footage is kept as sent), and the good camera was never judged undecodable
    const segments = new SegmentsRepo(ctx.db);
    const before = segments.forCamera('garbage').length;
    await waitFor(() => segments.forCamera('garbage').length > before + 1, { timeoutMs: 15_000, what: 'more segments of the garbage camera' });
    expect(statuses.get('clean')?.state).toBe('recording');
    expect(states.filter((s) => s.camera === 'clean').map((s) => s.state)).not.toContain('undecodable');
    console.log(JSON.stringify({ judgedAfterMs: judged.at - recordingAt }));
  }, 150_000);
});
