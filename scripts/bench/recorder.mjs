// Recorder cost: CPU (% of one core) and memory per recorded camera with 8 cameras replaying 1080p at 4 Mbit/s,
// and the daemon's own CPU while idle. The 1080p file is encoded once (cached in .state/bench/) and lengthened
// by stream copy, because the test camera replays a file without looping.
// The floor: in the same sampling window, 8 bare `ffmpeg -c copy` segmenters (same replay, same segment length,
// written to a temporary folder) pull 8 more replay cameras; the recorder is compared with them.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { procStat, round, sampleUsage, treePids } from './_measure.mjs';

const CAMERAS = 8;
const IDLE_S = 30;
// past the relay's unpaced start (cameras/rtsp-relay.ts UNPACED_START_MS, 30 s): the steady state is measured
const WARMUP_S = 35;
// two decode-check intervals (recorder.decode_check_interval_s, 60 s by default): a 60 s window holds 0 or 1 check round
const SAMPLE_S = 120;
const FILE_S = 240;
const SEGMENT_S = 4; // recorder.segment_seconds (its default, which the bench config keeps)
const RATIO_MAX = 1.25;
const CPU_MAX_PCT = 1;

/** Proportional and private memory (MB) from smaps_rollup: RSS counts ffmpeg's shared libraries once per process. */
function smaps(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
    return { pss: kb('Pss') / 1024, anon: kb('Anonymous') / 1024 };
  } catch {
    return { pss: NaN, anon: NaN };
  }
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * CPU seconds of the short-lived descendants of `root` whose command line matches `re`, polled every `ms` until
 * `stop()`. Needed for the decode checks in the media sandbox: a process in its own pid namespace is not counted
 * in its parent's reaped-children CPU. The last moments of each process between two polls are missed.
 */
function pollShortLived(root, re, ms = 25) {
  const last = new Map();
  const timer = setInterval(() => {
    for (const p of treePids(root)) {
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      if (!re.test(cmd)) continue;
      const st = procStat(p);
      if (st && st.comm === 'ffmpeg') last.set(p, st.cpuS);
    }
  }, ms);
  return {
    stop: () => {
      clearInterval(timer);
      return { processes: last.size, cpuS: [...last.values()].reduce((a, b) => a + b, 0) };
    },
  };
}

export async function run({ root, log }) {
  const dist = (p) => path.join(root, 'daemon', 'dist', p);
  const { ManagedProcess } = await import(dist('devkit/process.js'));
  const { startCamera } = await import(dist('devkit/camera.js'));
  const { makeTestVideo, lengthenVideo, probe } = await import(dist('devkit/media.js'));
  const { runCommand } = await import(dist('util/child.js'));

  const cache = path.join(root, '.state', 'bench');
  mkdirSync(cache, { recursive: true });
  const video = path.join(cache, `replay-1080p-4mbit-${FILE_S}s.ts`);
  if (!existsSync(video)) {
    log('encoding the 1080p 4 Mbit/s replay once (cached in .state/bench/)');
    const short = path.join(cache, 'replay-1080p-4mbit-20s.ts');
    await makeTestVideo(short, { seconds: 20, width: 1920, height: 1080, fps: 25, gop: 50, bitrateKbps: 4000 });
    await lengthenVideo(short, video, FILE_S);
  }
  const info = await probe(video);

  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-bench-recorder-'));
  const cameras = [];
  const floorCameras = [];
  const floors = [];
  let daemon;
  try {
    const config = path.join(dir, 'config.yaml');
    writeFileSync(config, ['version: 1', `device: {id: bench-box}`, `paths: {state_dir: ${dir}/state}`, 'log: {level: info, pretty: false}', 'cameras: {networks: [127.0.0.0/8]}', `recorder: {segment_seconds: ${SEGMENT_S}}`, 'buffer: {min_free_gb: 0}', 'web: {host: 127.0.0.1, port: 0}', ''].join('\n'));
    const cli = async (...args) => {
      const r = await runCommand(process.execPath, [dist('cli/main.js'), ...args, '--config', config], { timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`hindsight ${args.join(' ')}: ${r.stderr}`);
      return r.stdout.toString('utf8');
    };

    daemon = new ManagedProcess(process.execPath, [dist('cli/main.js'), 'run', '--config', config]);
    await daemon.waitForLine(/"msg":"hindsight running"/, 60_000);
    await new Promise((r) => setTimeout(r, 15_000)); // start-up work (lazy module init, JIT, GC) lasts about 10 s
    log(`daemon up; sampling its idle usage (no cameras) for ${IDLE_S} s`);
    const idle = (await sampleUsage([daemon.pid], IDLE_S)).per_pid[daemon.pid];

    log(`starting ${2 * CAMERAS} replay cameras: ${CAMERAS} for the daemon, ${CAMERAS} for bare ffmpeg -c copy (the floor)`);
    for (let i = 0; i < CAMERAS; i++) cameras.push(await startCamera({ mode: 'file', file: video }));
    for (let i = 0; i < CAMERAS; i++) floorCameras.push(await startCamera({ mode: 'file', file: video }));
    const floorDir = path.join(dir, 'floor');
    for (let i = 0; i < CAMERAS; i++) {
      mkdirSync(path.join(floorDir, String(i)), { recursive: true });
      const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-rtsp_transport', 'tcp', '-i', floorCameras[i].url, '-map', '0:v:0', '-c', 'copy', '-f', 'segment', '-segment_time', String(SEGMENT_S), '-segment_format', 'mpegts', path.join(floorDir, String(i), '%06d.ts')];
      floors.push(new ManagedProcess('ffmpeg', args));
    }
    for (let i = 0; i < CAMERAS; i++) await cli('camera', 'add', '--id', `cam${i + 1}`, '--name', `Camera ${i + 1}`, '--url', cameras[i].url);
    for (let i = 0; i < CAMERAS; i++) await daemon.waitForLine(new RegExp(`camera cam${i + 1}: recording`), 60_000);
    log(`all recording; warming up ${WARMUP_S} s, then sampling ${SAMPLE_S} s`);
    await new Promise((r) => setTimeout(r, WARMUP_S * 1000));
    // the recording ffmpegs (segment muxer); short decode checks come and go beside them
    const isRecorder = (p) => procStat(p)?.comm === 'ffmpeg' && readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('segment_list');
    const ffmpegs = treePids(daemon.pid).filter(isRecorder);
    // what else sits in the recording path: the camera relay process (it holds the credentials; its title is hindsight-relay) and the sandbox
    // launchers around the recording ffmpegs
    const cmdline = (p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8');
      } catch {
        return '';
      }
    };
    const pathPids = treePids(daemon.pid).filter((p) => cmdline(p).includes('relay-main') || cmdline(p).startsWith('hindsight-relay') || (procStat(p)?.comm === 'bwrap' && cmdline(p).includes('segment_list')));
    if (ffmpegs.length !== CAMERAS) throw new Error(`expected ${CAMERAS} recording ffmpeg processes, found ${ffmpegs.length}`);
    const memory = ffmpegs.map(smaps);
    const floorPids = floors.map((f) => f.pid);
    if (floors.some((f) => !procStat(f.pid))) throw new Error('a bare ffmpeg -c copy (the floor) is not running');
    const reapedBefore = procStat(daemon.pid).childrenCpuS;
    const checks = pollShortLived(daemon.pid, /skip_frame/);
    const usage = await sampleUsage([daemon.pid, ...ffmpegs, ...floorPids, ...pathPids], SAMPLE_S);
    // CPU of the children that ended meanwhile: the decode checks (a recorder ffmpeg that restarted too)
    const polled = checks.stop();
    const reapedCpu = (100 * (procStat(daemon.pid).childrenCpuS - reapedBefore)) / usage.wall_s / CAMERAS;
    // without the sandbox the reaped figure holds the checks exactly (and the polled one most of them)
    const checksCpu = Math.max(reapedCpu, (100 * polled.cpuS) / usage.wall_s / CAMERAS);
    const ff = ffmpegs.map((p) => usage.per_pid[p]);
    const d = usage.per_pid[daemon.pid];
    const fl = floorPids.map((p) => usage.per_pid[p]);
    if (fl.some((u) => u.cpu_pct_of_core === null)) throw new Error('a bare ffmpeg -c copy (the floor) exited while it was measured');
    const floorSegments = floorPids.map((_, i) => readdirSync(path.join(floorDir, String(i))).length);
    const status = JSON.parse(await cli('buffer', 'status', '--json'));

    const ffCpu = mean(ff.map((u) => u.cpu_pct_of_core));
    const floorCpu = mean(fl.map((u) => u.cpu_pct_of_core));
    // the recorder per camera: its recording ffmpeg and its share of the decode checks
    const pathCpu = pathPids.reduce((n, p) => n + (usage.per_pid[p].cpu_pct_of_core ?? 0), 0) / CAMERAS;
    const recorderCpu = ffCpu + checksCpu + pathCpu;
    const daemonShare = d.cpu_pct_of_core / CAMERAS;
    const perCameraCpu = recorderCpu + daemonShare;
    const ratio = recorderCpu / floorCpu;
    const floorAllows = floorCpu <= CPU_MAX_PCT;
    const summary = {
      cameras: CAMERAS,
      floor_per_camera_cpu_pct_of_core: round(floorCpu),
      recorder_per_camera_cpu_pct_of_core: round(recorderCpu),
      recorder_per_camera_ffmpeg_cpu_pct_of_core: round(ffCpu),
      recorder_per_camera_decode_check_cpu_pct_of_core: round(checksCpu, 3),
      decode_check_processes_seen: polled.processes,
      recorder_per_camera_relay_and_sandbox_cpu_pct_of_core: round(pathCpu),
      relay_and_sandbox_processes: pathPids.map((p) => ({ comm: usage.per_pid[p].comm, cpu_pct_of_core: round(usage.per_pid[p].cpu_pct_of_core) })),
      ratio_recorder_to_floor: round(ratio),
      pass_ratio_le_1_25: ratio <= RATIO_MAX,
      // 1 % of a core is only reachable when the bare copy itself needs no more
      pass_cpu_le_1_pct: floorAllows ? recorderCpu <= CPU_MAX_PCT : null,
      cpu_le_1_pct_reachable: floorAllows,
      ...(floorAllows ? {} : { cpu_le_1_pct_note: `the floor itself is ${round(floorCpu)} % of a core per camera, above 1 %: 1 % is not reachable on this run` }),
      daemon_share_per_camera_cpu_pct_of_core: round(daemonShare),
      per_camera_cpu_pct_of_core: round(perCameraCpu),
      ratio_with_daemon_share_to_floor: round(perCameraCpu / floorCpu),
      per_camera_rss_mb: round(mean(ff.map((u) => u.rss_mb_mean)), 1),
      per_camera_pss_mb: round(mean(memory.map((m) => m.pss)), 1),
      per_camera_private_mb: round(mean(memory.map((m) => m.anon)), 1),
      daemon_idle_cpu_pct_of_core: round(idle.cpu_pct_of_core),
      daemon_recording_cpu_pct_of_core: round(d.cpu_pct_of_core),
      daemon_rss_mb: round(d.rss_mb_mean, 1),
    };
    return {
      summary,
      targets: { ratio_recorder_to_floor: `<= ${RATIO_MAX}`, recorder_per_camera_cpu_pct_of_core: `<= ${CPU_MAX_PCT} where the floor allows`, per_camera_memory_mb: '<= 20', daemon_idle_cpu_pct_of_core: '<= 1' },
      stream: { width: info.width, height: info.height, codec: info.codec, bitrate_kbps: 4000, fps: 25, keyframe_s: 2 },
      floor: { command: `ffmpeg -rtsp_transport tcp -i URL -map 0:v:0 -c copy -f segment -segment_time ${SEGMENT_S} -segment_format mpegts DIR/%06d.ts`, per_process_cpu_pct_of_core: fl.map((u) => round(u.cpu_pct_of_core)), segments_written: floorSegments },
      ffmpeg: ffmpegs.map((p, i) => ({ cpu_pct_of_core: round(ff[i].cpu_pct_of_core), rss_mb: round(ff[i].rss_mb_mean, 1), pss_mb: round(memory[i].pss, 1), private_mb: round(memory[i].anon, 1) })),
      daemon: { idle_rss_mb: round(idle.rss_mb_mean, 1), recording_rss_mb: round(d.rss_mb_mean, 1) },
      buffer: status.cameras.map((c) => ({ camera: c.cameraId, state: c.state, segments: c.segments, gaps: c.gaps, fps: c.fps, bitrate_kbps: c.bitrateKbps === null ? null : round(c.bitrateKbps, 0) })),
      notes:
        'recorder_per_camera = mean recording ffmpeg CPU + the reaped children\'s CPU (decode checks) / 8 + the camera relay process\'s ' +
        'and the sandbox launchers\' CPU / 8; floor = mean CPU of the 8 bare ffmpeg -c copy ' +
        'segmenters sampled in the same window; ratio = recorder / floor. per_camera_cpu adds the daemon\'s CPU / 8 (its parsing of progress and ' +
        'segment lists, indexing, status). Memory: RSS counts the pages of ffmpeg\'s shared libraries ' +
        '(libavcodec & co., ~35 MB) in every process; PSS shares them out between the 8 processes; private is the anonymous ' +
        'memory each camera really adds.',
    };
  } finally {
    if (daemon) await daemon.stop(5000);
    await Promise.all(floors.map((f) => f.stop(5000)));
    await Promise.all([...cameras, ...floorCameras].map((c) => c.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}
