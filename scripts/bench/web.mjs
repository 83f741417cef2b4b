// The box's web app under load, on loopback: 20 staff sessions logging incidents and 5 manager
// dashboards polling for 60 s (each loop bounded and paced), with a 1080p camera recording. Figures:
// requests, errors other than limit answers (must be 0; 429 rate limits and 503 queue_full are the box's
// incident limits), latency p50/p95/p99, the daemon's CPU. First, on the quiet box, one manager watches the
// camera live for 30 s: CPU of the live path (its ffmpeg, and the daemon's extra over idle). Then the same
// for a 1080p H.265 camera, whose live view is a transcode (registered disabled, so it is not recorded and the
// load figures stay comparable; the live view reads the camera on its own RTSP session either way).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { procStat, round, sampleUsage, treePids } from './_measure.mjs';

const STAFF = 20;
const MANAGERS = 5;
const SECONDS = 60;
const LIVE_SECONDS = 30;

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : null;
};

export async function run({ root, log }) {
  const dist = (p) => import(path.join(root, 'daemon/dist', p));
  const { startCamera } = await dist('devkit/camera.js');
  const { ManagedProcess, stopAllManaged } = await dist('devkit/process.js');
  const { makeTestVideo, lengthenVideo } = await dist('devkit/media.js');
  const { WebClient } = await dist('devkit/web-client.js');
  const cli = path.join(root, 'daemon/dist/cli/main.js');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-bench-web-'));
  try {
    log('making 1080p25 camera footage');
    const short = await makeTestVideo(path.join(dir, 'cam-10s.ts'), { seconds: 10, width: 1920, height: 1080, fps: 25, gop: 50, bitrateKbps: 4000 });
    const video = await lengthenVideo(short, path.join(dir, 'cam.ts'), 300);
    const camera = await startCamera({ mode: 'file', file: video });
    // the test camera re-sends H.265 only from MPEG-TS (its file mode is H.264 only): mp2t mode, as cameras that send MPEG-TS
    log('making 1080p25 H.265 camera footage');
    const shortH265 = await makeTestVideo(path.join(dir, 'h265-10s.ts'), { seconds: 10, width: 1920, height: 1080, fps: 25, gop: 50, bitrateKbps: 4000, codec: 'h265' });
    const cameraH265 = await startCamera({ mode: 'mp2t', file: await lengthenVideo(shortH265, path.join(dir, 'h265.ts'), 300) });
    const config = path.join(dir, 'config.yaml');
    writeFileSync(config, stringify({ version: 1, device: { id: 'bench-box', store: 'Bench Store' }, paths: { state_dir: path.join(dir, 'state') }, log: { level: 'warn', pretty: false }, cameras: { networks: ['127.0.0.0/8'] }, buffer: { min_free_gb: 0 }, web: { enabled: true, host: '127.0.0.1', port: 0 } }));
    const add = await new ManagedProcess(process.execPath, [cli, 'camera', 'add', '--config', config, '--id', 'till', '--name', 'Till', '--zone', 'Tills', '--url', camera.url]).child.exited;
    if (add.code !== 0) throw new Error('camera add failed');
    const addH265 = await new ManagedProcess(process.execPath, [cli, 'camera', 'add', '--config', config, '--id', 'door', '--name', 'Door', '--zone', 'Door', '--url', cameraH265.url, '--disabled']).child.exited;
    if (addH265.code !== 0) throw new Error('camera add (H.265) failed');
    const daemon = new ManagedProcess(process.execPath, [cli, 'run', '--config', config], { env: { ...process.env, HINDSIGHT_LOG__LEVEL: 'info' } });
    const m = await daemon.waitForLine(/"msg":"web app at [^"]*:(\d+)\//, 60_000);
    const port = Number(m[1]);
    await daemon.waitForLine(/"setup_code":"/, 10_000);
    const code = /"setup_code":"([0-9-]+)"/.exec(daemon.lines.find((l) => l.includes('"setup_code"')))[1];
    await daemon.waitForLine(/camera till: recording/, 60_000);
    const pause = (ms) => new Promise((r) => setTimeout(r, ms));
    const ca = readFileSync(path.join(dir, 'state', 'web', 'cert.pem'), 'utf8');
    const client = () => new WebClient(port, ca);
    const manager = client();
    if ((await manager.post('/api/v1/setup', { code, name: 'Manager', password: 'bench password long enough' })).status !== 201) throw new Error('setup failed');
    const staff = [];
    for (let i = 0; i < STAFF; i++) {
      await manager.post('/api/v1/accounts', { name: `staff${i}`, pin: String(100000 + i) });
      const s = client();
      if ((await s.post('/api/v1/login', { name: `staff${i}`, secret: String(100000 + i) })).status !== 200) throw new Error('login failed');
      staff.push(s);
    }
    const managers = [manager];
    for (let i = 1; i < MANAGERS; i++) {
      const c = client();
      await c.post('/api/v1/login', { name: 'Manager', secret: 'bench password long enough' });
      managers.push(c);
    }

    // first, on a quiet box (no incident being analysed in the daemon's workers): idle, then one live viewer
    /** One viewer of a camera's live view for LIVE_SECONDS: its ffmpeg's CPU, the daemon's extra over idle, the stream's rate. */
    const measureLive = async (cameraId, isLiveFfmpeg) => {
      const idle = await sampleUsage([daemon.pid], 10);
      let bytes = 0;
      const req = https.request({ host: '127.0.0.1', servername: 'localhost', port, path: `/api/v1/cameras/${cameraId}/live`, ca, headers: { host: `localhost:${port}`, cookie: manager.cookie } }, (res) => res.on('data', (c) => (bytes += c.length)));
      req.end();
      await pause(5000);
      const liveFfmpeg = treePids(daemon.pid).find((p) => {
        try {
          return procStat(p).comm === 'ffmpeg' && isLiveFfmpeg(readFileSync(`/proc/${p}/cmdline`, 'utf8'));
        } catch {
          return false;
        }
      });
      const bytes0 = bytes;
      const live = await sampleUsage([daemon.pid, ...(liveFfmpeg ? [liveFfmpeg] : [])], LIVE_SECONDS);
      const kbps = ((bytes - bytes0) * 8) / live.wall_s / 1000;
      req.destroy();
      await pause(3000); // the stream stops 2 s after its viewer left
      const ffmpegPct = liveFfmpeg ? live.per_pid[liveFfmpeg].cpu_pct_of_core : null;
      const daemonExtra = live.per_pid[daemon.pid].cpu_pct_of_core - idle.per_pid[daemon.pid].cpu_pct_of_core;
      return {
        found_ffmpeg: liveFfmpeg !== undefined,
        figures: {
          stream_kbps: round(kbps, 0),
          ffmpeg_cpu_pct_of_core: round(ffmpegPct, 2),
          daemon_extra_cpu_pct_of_core: round(daemonExtra, 2),
          live_path_cpu_pct_of_core: round((ffmpegPct ?? 0) + Math.max(0, daemonExtra), 2),
        },
      };
    };
    log(`one live viewer of the 1080p camera for ${LIVE_SECONDS} s`);
    const liveH264 = await measureLive('till', (cmd) => cmd.includes('frag_keyframe'));
    // the first view of an H.265 camera copies for a moment to find its codec, then transcodes: the transcode is measured
    log(`one live viewer of the 1080p H.265 camera (a transcode) for ${LIVE_SECONDS} s`);
    const liveH265 = await measureLive('door', (cmd) => cmd.includes('frag_keyframe') && cmd.includes('libx264'));
    log(`${STAFF} staff sessions and ${MANAGERS} manager dashboards for ${SECONDS} s`);
    const latencies = [];
    const statuses = {};
    const errors = [];
    const timed = async (c, method, url, body) => {
      const t = performance.now();
      try {
        const a = await c.request(method, url, body);
        latencies.push(performance.now() - t);
        statuses[a.status] = (statuses[a.status] ?? 0) + 1;
        const limit = a.status === 429 || (a.status === 503 && a.body.error === 'queue_full');
        if (a.status >= 400 && !limit) errors.push(`${method} ${url}: ${a.status} ${a.text.slice(0, 120)}`);
        return a;
      } catch (err) {
        errors.push(`${method} ${url}: ${err.message}`);
        return undefined;
      }
    };
    const end = performance.now() + SECONDS * 1000;
    const cpu0 = procStat(daemon.pid).cpuS;
    const t0 = performance.now();
    const staffLoop = async (s, i) => {
      let n = 0;
      while (performance.now() < end) {
        const a = await timed(s, 'POST', '/api/v1/incidents', { request_key: `bench-${i}-${n++}-key`, minutes_ago: 0, zone: 'Tills', reason: 'theft', justification: 'benchmark: staff logging an incident' });
        const id = a?.body?.incident?.id;
        await timed(s, 'GET', '/api/v1/incidents');
        if (id) await timed(s, 'GET', `/api/v1/incidents/${id}`);
        await timed(s, 'GET', '/api/v1/presses');
        await pause(1000 + (i % 5) * 100);
      }
    };
    const managerLoop = async (c, i) => {
      while (performance.now() < end) {
        await timed(c, 'GET', '/api/v1/cameras');
        await timed(c, 'GET', '/api/v1/incidents');
        await timed(c, 'GET', '/api/v1/session');
        await pause(2000 + i * 100);
      }
    };
    await Promise.all([...staff.map(staffLoop), ...managers.map(managerLoop)]);
    const wall = (performance.now() - t0) / 1000;
    const daemonCpuPct = ((procStat(daemon.pid).cpuS - cpu0) / wall) * 100;

    await daemon.stop();
    await stopAllManaged();

    const summary = {
      staff_sessions: STAFF,
      manager_dashboards: MANAGERS,
      seconds: round(wall, 1),
      requests: latencies.length,
      requests_per_s: round(latencies.length / wall, 1),
      statuses,
      errors_other_than_limits: errors.length,
      latency_ms: { p50: round(quantile(latencies, 0.5), 1), p95: round(quantile(latencies, 0.95), 1), p99: round(quantile(latencies, 0.99), 1), max: round(Math.max(...latencies), 1) },
      daemon_cpu_pct_of_core_under_load: round(daemonCpuPct, 1),
      live_1080p: liveH264.figures,
      live_1080p_h265_transcode: liveH265.figures,
      pass_no_errors: errors.length === 0,
      pass_live_under_5pct: liveH264.found_ffmpeg && liveH264.figures.live_path_cpu_pct_of_core < 5,
      pass_live_h265_transcoded: liveH265.found_ffmpeg,
    };
    log(JSON.stringify(summary));
    return { summary, first_errors: errors.slice(0, 10), targets: { errors_other_than_limits: 0, live_path_cpu_pct_of_core: '< 5 (stream copy)', live_1080p_h265_transcode: 'measured, no target (a transcode at most 640 px wide, 10 fps)' } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
