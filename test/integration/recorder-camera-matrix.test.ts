import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UNDECODABLE } from '../../daemon/src/recorder/service.js';
import { AlarmsRepo } from '../../daemon/src/store/repos/alarms.js';
import { CameraStatusRepo } from '../../daemon/src/store/repos/camera-status.js';
import { GapsRepo } from '../../daemon/src/store/repos/gaps.js';
import { SegmentsRepo } from '../../daemon/src/store/repos/segments.js';
import { lengthenVideo, makeTestVideo } from '../helpers/media.js';
import { tempDir } from '../helpers/paths.js';
import { descendants } from '../helpers/process.js';
import { inProcessDaemon } from '../helpers/recorder.js';
import { startCamera, type CameraOptions } from '../helpers/rtsp-camera.js';
import { waitFor } from '../helpers/wait.js';

const WATCH_MS = 60_000;

/** Cameras shops own, one quirk each. */
const MATRIX: Record<string, CameraOptions> = {
  h264b: { width: 640, height: 360, fps: 10, gop: 10, bframes: 2 },
  // x265 is slow: a small picture keeps the test camera itself real-time on a shared machine
  h265b: { width: 320, height: 240, fps: 10, gop: 10, codec: 'h265', bframes: 2 },
  audio: { width: 640, height: 360, fps: 10, gop: 10, audio: true },
  // 4K is replayed from a file: encoding it live would starve the other test cameras on a shared machine
  uhd: { mode: 'file' },
  // RTP timestamps start 10 s before they wrap (32 bits at 90 kHz)
  wrap: { width: 640, height: 360, fps: 10, gop: 10, rtpTimestampOffset: 2 ** 32 - 10 * 90_000 },
};

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

describe('recorder: the cameras shops own', () => {
  it('records B-frames (H.264, H.265), audio, 4K and an RTP timestamp wrap steadily for 60 s: one start, no gap, >= 95 % covered', async () => {
    const dir = tempDir();
    const short = await makeTestVideo(path.join(dir, 'uhd-10s.ts'), { seconds: 10, width: 3840, height: 2160, fps: 5, gop: 5, bitrateKbps: 4000 });
    const uhdFile = await lengthenVideo(short, path.join(dir, 'uhd.ts'), 150);
    const cameras = await Promise.all(Object.values(MATRIX).map((o) => startCamera(o.mode === 'file' ? { ...o, file: uhdFile } : o)));
    const ids = Object.keys(MATRIX);
    const { ctx, recorder } = inProcessDaemon(dir, { recorder: { segment_seconds: 2, rtsp_timeout_s: 5 } });
    afterAll(async () => {
      await recorder.stop();
      ctx.db.close();
    });
    for (const [i, id] of ids.entries()) await recorder.cameras.add({ id, name: id, url: cameras[i]!.url }, { type: 'cli', id: 'test' });
    const segments = new SegmentsRepo(ctx.db);
    await recorder.start();
    await waitFor(() => ids.every((id) => segments.forCamera(id).length > 0), { timeoutMs: 60_000, what: 'a first segment from every camera' });
    const from = new Map(ids.map((id) => [id, segments.forCamera(id)[0]!.startUtcMs]));
    const ffmpegs = descendants(process.pid).filter((p) => readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'ffmpeg');
    const cpuStart = ffmpegs.map(cpuSeconds);
    await new Promise((r) => setTimeout(r, WATCH_MS));
    const cpuPerCamera = ffmpegs.map((p, i) => Math.round(((cpuSeconds(p) - cpuStart[i]!) / (WATCH_MS / 1000)) * 1000) / 10);

    const statuses = new CameraStatusRepo(ctx.db);
    const report: Record<string, unknown> = {};
    for (const id of ids) {
      const own = segments.forCamera(id);
      const start = from.get(id)!;
      const end = own[own.length - 1]!.endUtcMs;
      const covered = own.reduce((n, s) => n + (s.endUtcMs - s.startUtcMs), 0) / (end - start);
      report[id] = { segments: own.length, spanS: (end - start) / 1000, covered: Math.round(covered * 1000) / 1000, status: statuses.get(id), holes: own.slice(1).map((seg, i) => seg.startUtcMs - own[i]!.endUtcMs).filter((h) => h !== 0) };
    }
    console.log(JSON.stringify({ report, recordingFfmpegCpuPercent: cpuPerCamera }));
    for (const id of ids) {
      const own = segments.forCamera(id);
      const start = from.get(id)!;
      const end = own[own.length - 1]!.endUtcMs;
      const covered = own.reduce((n, s) => n + (s.endUtcMs - s.startUtcMs), 0) / (end - start);
      expect(end - start, `${id}: recorded through the watch`).toBeGreaterThan(WATCH_MS - 5000);
      expect(covered, `${id}: covered`).toBeGreaterThanOrEqual(0.95);
      expect(new GapsRepo(ctx.db).overlapping(id, 0, Number.MAX_SAFE_INTEGER), `${id}: no gap`).toEqual([]);
      expect(statuses.get(id), `${id}: one ffmpeg start, still recording`).toMatchObject({ state: 'recording', spawns: 1 });
    }
    expect(new AlarmsRepo(ctx.db, ctx.clock).active(UNDECODABLE), 'every camera decodes').toEqual([]);
  }, 240_000);
});
