import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GapsRepo } from '../../../daemon/src/db/repos/gaps.js';
import { SegmentsRepo } from '../../../daemon/src/db/repos/segments.js';
import { decodeErrors } from '../../helpers/media.js';
import { tempDir } from '../../helpers/paths.js';
import { startCamera } from '../../helpers/rtsp-camera.js';
import { inProcessDaemon } from '../../helpers/recorder.js';
import { waitFor } from '../../helpers/wait.js';

const CLI_ACTOR = { type: 'cli', id: 'test' } as const;

describe('recorder: continuous recording', () => {
  it('records 30 s of a live camera with the default segment shape: contiguous, UTC-indexed, every segment decodable', async () => {
    const dir = tempDir();
    const camera = await startCamera({ width: 320, height: 240, fps: 10, gop: 10, bitrateKbps: 300 });
    // The defaults' shape: 4 s segments, 10 s RTSP timeout, 30 s stall bound.
    const { ctx, recorder } = inProcessDaemon(dir, { recorder: { segment_seconds: 4, rtsp_timeout_s: 10, stall_timeout_s: 30, restart_initial_s: 1, restart_max_s: 30, status_interval_s: 5, reload_poll_s: 2 } });
    await recorder.cameras.add({ id: 'till1', name: 'Till 1', url: camera.url }, CLI_ACTOR);
    afterAll(async () => {
      await recorder.stop();
      ctx.db.close();
    });
    let recordingAt = 0;
    ctx.bus.on('camera.state', (s) => {
      if (s.state === 'recording' && !recordingAt) recordingAt = Date.now();
    });
    const startedAt = Date.now();
    await recorder.start();
    await waitFor(() => recordingAt, { timeoutMs: 30_000, what: 'recording state' });
    await new Promise((r) => setTimeout(r, 30_000 - (Date.now() - startedAt)));
    const live = recorder.statuses()[0]!;
    expect(live).toMatchObject({ cameraId: 'till1', state: 'recording', reason: null, spawns: 1 });
    expect(live.fps, 'the camera sends 10 fps').toBeGreaterThan(9);
    expect(live.fps).toBeLessThan(11);
    expect(live.bitrateKbps, 'the camera sends about 500 kbit/s').toBeGreaterThan(250);
    expect(live.bitrateKbps).toBeLessThan(1000);
    expect(Date.now() - live.lastSegmentEndUtcMs!).toBeLessThan(15_000);
    const stoppedAt = Date.now();
    await recorder.stop();

    const segments = new SegmentsRepo(ctx.db).forCamera('till1');
    expect(segments.length).toBeGreaterThanOrEqual(7);
    for (let i = 1; i < segments.length; i++) expect(segments[i]!.startUtcMs, `segment ${i} starts where ${i - 1} ends`).toBe(segments[i - 1]!.endUtcMs);
    const first = segments[0]!;
    const last = segments[segments.length - 1]!;
    const recordedMs = segments.reduce((n, s) => n + (s.endUtcMs - s.startUtcMs), 0);
    // Wall time of the recording: from the first packet (ffmpeg connects within a moment of its start, and
    // buffers a few seconds while it probes, so the first packet is known from the stream, not from an event)
    // to the stop. The index must place the first packet after the start and the last one at the stop.
    const wallMs = stoppedAt - first.startUtcMs;
    expect(first.startUtcMs).toBeGreaterThanOrEqual(startedAt);
    expect(first.startUtcMs - startedAt, 'connecting took too long').toBeLessThanOrEqual(3000);
    expect(Math.abs(recordedMs - wallMs), `recorded ${recordedMs} ms over ${wallMs} ms of wall time`).toBeLessThanOrEqual(1000);
    expect(Math.abs(last.endUtcMs - stoppedAt)).toBeLessThanOrEqual(1000);
    // keyframe-bound 4 s segments (keyframe every second): between 4 and 5 s except the last
    for (const s of segments.slice(0, -1)) expect(s.endUtcMs - s.startUtcMs).toBeGreaterThanOrEqual(3900);
    for (const s of segments.slice(0, -1)) expect(s.endUtcMs - s.startUtcMs).toBeLessThanOrEqual(5100);
    for (const s of segments) {
      expect(s.path).toMatch(/^till1\/[0-9A-Z]{26}_\d{6}\.ts$/);
      expect(await decodeErrors(path.join(ctx.paths.bufferDir, s.path)), s.path).toBe('');
    }
    const gaps = new GapsRepo(ctx.db).forCamera('till1');
    expect(gaps).toEqual([expect.objectContaining({ startUtcMs: last.endUtcMs, endUtcMs: null, reason: 'the daemon stopped' })]);
    console.log(JSON.stringify({ segments: segments.length, recordedMs, wallMs, startAfterLaunchMs: first.startUtcMs - startedAt, recordingEventAfterFirstPacketMs: recordingAt - first.startUtcMs, endSkewMs: last.endUtcMs - stoppedAt }));
  });
});
