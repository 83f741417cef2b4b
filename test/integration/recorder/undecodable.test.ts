import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UNDECODABLE } from '../../../daemon/src/recorder/service.js';
import { AlarmsRepo } from '../../../daemon/src/db/repos/alarms.js';
import { CameraStatusRepo, type RecorderState } from '../../../daemon/src/db/repos/camera-status.js';
import { SegmentsRepo } from '../../../daemon/src/db/repos/segments.js';
import { makeGarbageVideo } from '../../helpers/media.js';
import { tempDir } from '../../helpers/paths.js';
import { inProcessDaemon } from '../../helpers/recorder.js';
import { startCamera } from '../../helpers/rtsp-camera.js';
import { waitFor } from '../../helpers/wait.js';

describe('recorder: a camera whose video does not decode', () => {
  it('leaves `recording` for `undecodable` within 30 s with an alarm, keeps recording, and leaves a good camera alone', async () => {
    const dir = tempDir();
    const garbageFile = await makeGarbageVideo(path.join(dir, 'garbage.ts'), { seconds: 90, width: 320, height: 240, fps: 10, gop: 10 });
    const [garbage, clean] = await Promise.all([startCamera({ mode: 'file', file: garbageFile }), startCamera({ width: 320, height: 240, fps: 10, gop: 10 })]);
    // the default check interval: the verdict must come within 30 s as shipped
    const { ctx, recorder } = inProcessDaemon(dir, { recorder: { segment_seconds: 2 } });
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

  it('catches video that turns to garbage after a good start, once checks are down to one per interval', async () => {
    const dir = tempDir();
    const goodS = 16;
    const file = await makeGarbageVideo(path.join(dir, 'turns.ts'), { seconds: 90, width: 320, height: 240, fps: 10, gop: 10, goodSeconds: goodS });
    const camera = await startCamera({ mode: 'file', file });
    const intervalS = 6;
    const { ctx, recorder } = inProcessDaemon(dir, { recorder: { segment_seconds: 2, decode_check_interval_s: intervalS } });
    afterAll(async () => {
      await recorder.stop();
      ctx.db.close();
    });
    await recorder.cameras.add({ id: 'turns', name: 'turns', url: camera.url }, { type: 'cli', id: 'test' });
    const states: { state: RecorderState; at: number }[] = [];
    ctx.bus.on('camera.state', (s) => s.cameraId === 'turns' && states.push({ state: s.state, at: Date.now() }));
    await recorder.start();
    const recordingAt = (await waitFor(() => states.find((s) => s.state === 'recording'), { timeoutMs: 30_000, what: 'the camera recording' })).at;
    // the replay starts when recording does: garbage from goodS on; caught within the interval plus a few segments
    const judged = await waitFor(() => states.find((s) => s.state === 'undecodable'), { timeoutMs: 60_000, what: 'the undecodable state' });
    // not while the video was good (a stream may run a little ahead of the wall clock at the start)
    expect(judged.at - recordingAt, 'not before the video turned to garbage').toBeGreaterThan((goodS - 4) * 1000);
    expect(new CameraStatusRepo(ctx.db).get('turns')).toMatchObject({ state: 'undecodable', spawns: 1 });
    expect(new AlarmsRepo(ctx.db, ctx.clock).active(UNDECODABLE).map((a) => a.subject)).toEqual(['turns']);
    console.log(JSON.stringify({ judgedAfterGarbageMs: judged.at - recordingAt - goodS * 1000 }));
  }, 150_000);
});
