import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import type { RecorderState } from '../../../daemon/src/db/repos/camera-status.js';
import { GapsRepo } from '../../../daemon/src/db/repos/gaps.js';
import { SegmentsRepo } from '../../../daemon/src/db/repos/segments.js';
import { jsonLines } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/paths.js';
import { freePort } from '../../helpers/ports.js';
import { inProcessDaemon } from '../../helpers/recorder.js';
import { startCamera } from '../../helpers/rtsp-camera.js';
import { waitFor } from '../../helpers/wait.js';

const ACTOR = { type: 'cli', id: 'test' } as const;
const TIMEOUT_S = 2;
const OUTAGE_MS = 10_000;

/** A "camera" that accepts TCP and answers with random bytes forever. */
async function garbageServer(): Promise<{ port: number; close: () => void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    const timer = setInterval(() => s.write(randomBytes(2048)), 50);
    s.on('error', () => undefined);
    s.on('close', () => {
      clearInterval(timer);
      sockets.delete(s);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return { port, close: () => (server.close(), sockets.forEach((s) => s.destroy())) };
}

/** A "camera" that accepts TCP and hangs up at once: ffmpeg fails in milliseconds, the worst case for a storm. */
async function hangUpServer(): Promise<{ port: number; close: () => void }> {
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

describe('recorder: outages', () => {
  it('resumes after a camera is killed and comes back, notices a silent stall, and backs off from cameras that never work', async () => {
    const dir = tempDir();
    const [dropping, stalling, locked, slowKeys] = await Promise.all([
      startCamera({ width: 320, height: 240, fps: 10, gop: 10 }),
      startCamera({ width: 320, height: 240, fps: 10, gop: 10 }),
      startCamera({ width: 320, height: 240, fps: 10, gop: 10, user: 'alice', password: 'right' }),
      // a keyframe every 15 s: frames flow but no segment can close within the 10 s stall bound
      startCamera({ width: 320, height: 240, fps: 10, gop: 150 }),
    ]);
    const garbage = await garbageServer();
    const hangUp = await hangUpServer();
    const refusedPort = await freePort();
    const { ctx, recorder, lines } = inProcessDaemon(dir, { recorder: { rtsp_timeout_s: TIMEOUT_S } });
    afterAll(async () => {
      await recorder.stop();
      garbage.close();
      hangUp.close();
      ctx.db.close();
    });
    for (const [id, url] of [['drop', dropping.url], ['stall', stalling.url], ['garbage', `rtsp://127.0.0.1:${garbage.port}/stream`], ['off', `rtsp://127.0.0.1:${refusedPort}/stream`], ['hangup', `rtsp://127.0.0.1:${hangUp.port}/stream`]] as const) {
      await recorder.cameras.add({ id, name: id, url }, ACTOR);
    }
    await recorder.cameras.add({ id: 'auth', name: 'auth', url: locked.url, credentials: { username: 'alice', password: 'wrong' } }, ACTOR);
    await recorder.cameras.add({ id: 'slowkeys', name: 'slowkeys', url: slowKeys.url }, ACTOR);
    const states: { camera: string; state: RecorderState; at: number }[] = [];
    ctx.bus.on('camera.state', (s) => states.push({ camera: s.cameraId, state: s.state, at: Date.now() }));
    const segments = new SegmentsRepo(ctx.db);
    const gaps = new GapsRepo(ctx.db);
    const startedAt = Date.now();
    await recorder.start();
    await waitFor(() => segments.forCamera('drop').length >= 3 && segments.forCamera('stall').length >= 3, { timeoutMs: 30_000, what: 'both cameras recording' });

    // the outage: one camera killed, the other frozen (its socket stays open but nothing comes)
    const downAt = Date.now();
    await dropping.kill9();
    stalling.pause();
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    await dropping.restart();
    const backAt = Date.now();
    stalling.resume();

    const resumed = await waitFor(() => segments.forCamera('drop').find((s) => s.startUtcMs > downAt), { timeoutMs: 20_000, what: 'a segment after the camera came back' });
    expect(resumed.startUtcMs - backAt, 'recording resumes within 5 s of the camera\'s return').toBeLessThanOrEqual(5000);
    const dropGaps = gaps.forCamera('drop');
    expect(dropGaps, 'exactly one gap for the outage').toHaveLength(1);
    const dropGap = dropGaps[0]!;
    expect(dropGap.endUtcMs).toBe(resumed.startUtcMs);
    expect(Math.abs(dropGap.startUtcMs - downAt)).toBeLessThanOrEqual(1500);
    expect(dropGap.endUtcMs! - dropGap.startUtcMs).toBeGreaterThanOrEqual(OUTAGE_MS - 1000);
    expect(dropGap.endUtcMs! - dropGap.startUtcMs).toBeLessThanOrEqual(OUTAGE_MS + 6000);

    // the stall is noticed within 2x the timeout, leaves one gap, and recording comes back after SIGCONT
    const noticed = states.find((s) => s.camera === 'stall' && s.at > downAt && s.state !== 'recording');
    expect(noticed, 'the stall changed the state').toBeDefined();
    expect(noticed!.at - downAt, 'stall noticed within 2x the timeout').toBeLessThanOrEqual(2 * TIMEOUT_S * 1000);
    const recovered = await waitFor(() => segments.forCamera('stall').find((s) => s.startUtcMs > backAt), { timeoutMs: 40_000, what: 'stalled camera recording again' });
    const stallGaps = gaps.forCamera('stall');
    expect(stallGaps).toHaveLength(1);
    expect(Math.abs(stallGaps[0]!.startUtcMs - downAt)).toBeLessThanOrEqual(1500);
    expect(stallGaps[0]!.endUtcMs).toBe(recovered.startUtcMs);

    // cameras that never work get a clear state; those that do not even answer RTSP are polled, not spawned
    const elapsedS = (Date.now() - startedAt) / 1000;
    const status = new Map(recorder.statuses().map((s) => [s.cameraId, s]));
    const expected: [string, RegExp][] = [
      ['garbage', /not a working RTSP camera stream/],
      ['off', /refused the connection/],
      ['hangup', /closed the connection/],
      ['auth', /refused the username or password \(RTSP 401\)/],
    ];
    for (const [id, reason] of expected) {
      expect(status.get(id), id).toMatchObject({ state: 'failed', reason: expect.stringMatching(reason) });
      expect(gaps.forCamera(id), id).toEqual([expect.objectContaining({ endUtcMs: null, reason: expect.stringMatching(reason) })]);
    }
    for (const id of ['garbage', 'off', 'hangup']) expect(status.get(id)!.spawns, `${id}: no ffmpeg against a non-RTSP endpoint`).toBe(0);
    // a camera that answers RTSP but refuses the login: ffmpeg fails in milliseconds, the worst case for a
    // storm; starts are spaced 0.5, 1, 2, 4, 4 ... s (+-20 %) apart instead
    const starts = jsonLines(lines).filter((l) => l.msg === 'ffmpeg started' && l.camera === 'auth').map((l) => Date.parse(l.time as string));
    const intervals = starts.slice(1).map((t, i) => t - starts[i]!);
    expect(starts.length).toBe(status.get('auth')!.spawns);
    expect(starts.length).toBeGreaterThanOrEqual(4);
    expect(starts.length).toBeLessThanOrEqual(Math.ceil(elapsedS / 3.2) + 4);
    expect(intervals[0]).toBeGreaterThanOrEqual(400);
    expect(Math.max(...intervals)).toBeGreaterThanOrEqual(3200);
    expect(Math.max(...intervals)).toBeLessThanOrEqual(4800 + 1000);
    // frames that never make a segment are a stall too, with a reason that says why
    await waitFor(() => jsonLines(lines).some((l) => l.camera === 'slowkeys' && /no segment closed for 10 s \(the camera's keyframe interval may be longer/.test(String(l.reason))), { timeoutMs: 20_000, what: 'the segment stall of the long-GOP camera' });

    // stopping is prompt even while a camera is frozen (its RTSP check and its ffmpeg are cut short)
    stalling.pause();
    await new Promise((r) => setTimeout(r, 3000));
    const stopStarted = Date.now();
    await recorder.stop();
    const stopMs = Date.now() - stopStarted;
    stalling.resume();
    expect(stopMs, 'within the daemon\'s 4 s budget per service').toBeLessThan(4000);
    console.log(JSON.stringify({ stopMs, resumeAfterReturnMs: resumed.startUtcMs - backAt, dropGapMs: dropGap.endUtcMs! - dropGap.startUtcMs, stallNoticedMs: noticed!.at - downAt, stallGapMs: stallGaps[0]!.endUtcMs! - stallGaps[0]!.startUtcMs, authStartIntervalsMs: intervals, elapsedS }));
  });
});
