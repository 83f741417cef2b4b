import { statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, startDaemon, writeConfig } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/paths.js';
import type { TestProcess } from '../../helpers/process.js';
import { queryStateDb, recorderConfigOverrides } from '../../helpers/recorder.js';
import { startCamera } from '../../helpers/rtsp-camera.js';
import { waitFor } from '../../helpers/wait.js';

interface Row {
  camera_id: string;
  path: string;
  start_utc_ms: number;
  end_utc_ms: number;
}

const FREEZE_MS = 30_000;
const FPS = 10;

describe('recorder: the daemon frozen while ffmpeg keeps writing', () => {
  it('places every segment written during a 30 s SIGSTOP at its true time, with no hole and no restart', async () => {
    const dir = tempDir();
    const cameras = await Promise.all([startCamera({ width: 320, height: 240, fps: FPS, gop: FPS }), startCamera({ width: 320, height: 240, fps: FPS, gop: FPS })]);
    const config = writeConfig(dir, recorderConfigOverrides({ recorder: { segment_seconds: 2 } }));
    for (const [i, camera] of cameras.entries()) {
      const add = await runCli(['camera', 'add', '--config', config, '--id', `cam${i}`, '--name', `Cam ${i}`, '--url', camera.url]);
      expect(add.code, add.stderr).toBe(0);
    }
    const rows = (): Row[] => queryStateDb<Row>(dir, 'SELECT camera_id, path, start_utc_ms, end_utc_ms FROM segments ORDER BY camera_id, start_utc_ms');
    const daemon: TestProcess = startDaemon(config);
    afterAll(async () => {
      daemon.resume();
      await daemon.stop();
    });
    await waitFor(() => ['cam0', 'cam1'].every((c) => rows().filter((r) => r.camera_id === c).length >= 3), { timeoutMs: 40_000, what: 'both cameras recording' });

    const frozenAt = Date.now();
    daemon.pause();
    await new Promise((r) => setTimeout(r, FREEZE_MS));
    daemon.resume();
    const resumedAt = Date.now();
    await waitFor(() => ['cam0', 'cam1'].every((c) => rows().some((r) => r.camera_id === c && r.start_utc_ms > resumedAt + 4000)), { timeoutMs: 30_000, what: 'segments after the freeze' });

    const all = rows();
    const gaps = queryStateDb(dir, 'SELECT camera_id, start_utc_ms, end_utc_ms, reason FROM gaps');
    const spawns = queryStateDb<{ spawns: number }>(dir, 'SELECT spawns FROM camera_status ORDER BY camera_id');
    expect(gaps, 'no gap: ffmpeg never stopped recording').toEqual([]);
    expect(spawns.map((s) => s.spawns), 'the freeze did not restart ffmpeg').toEqual([1, 1]);
    let worstMs = 0;
    for (const camera of ['cam0', 'cam1']) {
      const own = all.filter((r) => r.camera_id === camera);
      const during = own.filter((r) => r.end_utc_ms > frozenAt && r.start_utc_ms < resumedAt);
      expect(during.reduce((n, r) => n + r.end_utc_ms - r.start_utc_ms, 0), `${camera}: the freeze is covered`).toBeGreaterThan(FREEZE_MS);
      for (let i = 1; i < own.length; i++) expect(own[i]!.start_utc_ms - own[i - 1]!.end_utc_ms, `${camera}: no hole before ${own[i]!.path}`).toBeLessThan(250);
      // The truth: ffmpeg (not frozen) wrote each packet as it arrived, so a segment file's last write is when its
      // last frame came in from the camera; the segment ends one frame later (at the next keyframe).
      for (const r of own) {
        const lastWrite = statSync(path.join(dir, 'state', 'buffer', r.path)).mtimeMs;
        const errorMs = Math.abs(r.end_utc_ms - (lastWrite + 1000 / FPS));
        worstMs = Math.max(worstMs, errorMs);
        expect(errorMs, `${r.path} indexed at its true time`).toBeLessThan(500);
      }
    }
    console.log(JSON.stringify({ segments: all.length, worstErrorMs: Math.round(worstMs) }));
  }, 150_000);
});
