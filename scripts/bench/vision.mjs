// Face pipeline speed and memory:
//  1. 60 s of 1080p25 CCTV-like video (4 faces, sensor noise, ~4 Mbit/s H.264 like a camera's main stream):
//     decode alone (ffmpeg to raw RGB at 5 fps: the lower bound) vs the whole pipeline (`hindsight analyse`),
//     in PAIRS runs side by side (decode, then pipeline); the ratio is the median of the pairs' ratios. Wall and
//     CPU time (the machine's busy CPU from /proc/stat over the run: the sandboxed decoders' CPU does not reach
//     the shell's `time`), per-stage times, faces/s, peak RSS of the process tree.
//  2. A 90 s x 4-camera incident analysed with the default config.
// Faces come from the dev photo set when present (4 identities), else the public-domain photo repeated.
// Figures depend on what else the machine runs at the time: the 2 cores may be shared.
// HINDSIGHT_BENCH_KEEP=1 keeps the videos and results for inspection.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { round, procStat, treePids } from './_measure.mjs';

const PUBLIC_FACE = '/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg';
const PAIRS = 3;

/** Busy CPU seconds of the whole machine so far (user, nice, system, irq, softirq, steal), from /proc/stat. */
function machineBusyS() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f;
  return (user + nice + system + irq + softirq + steal) / 100;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Run a command; wall and CPU (user+sys of it and its children, from bash's `time`), peak RSS of its tree. */
async function measure(command, { log } = {}) {
  const child = spawn('bash', ['-c', `TIMEFORMAT='%R %U %S'; time (${command} 2>/dev/null)`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  let peak = 0;
  const busy0 = machineBusyS();
  const timer = setInterval(() => {
    const rss = [child.pid, ...treePids(child.pid)].reduce((s, p) => s + (procStat(p)?.rssBytes ?? 0), 0);
    peak = Math.max(peak, rss);
  }, 250);
  const code = await new Promise((resolve) => child.on('exit', resolve));
  clearInterval(timer);
  const busy = machineBusyS() - busy0;
  const [real, user, sys] = stderr.trim().split('\n').pop().split(' ').map(Number);
  if (code !== 0) throw new Error(`${command} failed (${code}): ${stderr.slice(-2000)}`);
  log?.(`${command.slice(0, 80)}...: ${real} s wall, ${round(busy)} s busy CPU, peak RSS ${round(peak / 2 ** 20, 0)} MiB`);
  return { wall_s: real, cpu_s: round(user + sys), machine_busy_cpu_s: round(busy), peak_rss_mib: round(peak / 2 ** 20, 0) };
}

export async function run({ root, log }) {
  const { makeCctvVideo, lengthenVideo } = await import(path.join(root, 'daemon/dist/devkit/media.js')).then(async (m) => ({ ...m, ...(await import(path.join(root, 'daemon/dist/devkit/cctv.js'))) }));
  const dev = process.env.HINDSIGHT_FACES_DIR ?? path.resolve(root, '..', 'shared', 'faces', 'dev');
  const photos = existsSync(dev) ? ['df02', 'df04', 'df06', 'df08'].map((id) => path.join(dev, id, '1.jpg')) : Array(4).fill(PUBLIC_FACE);
  // head-and-shoulders: the whole photo, scaled; faces of about 20-90 px between the eyes
  const sprite = async (photo) => {
    const { default: sharp } = await import('sharp');
    const m = await sharp(photo).metadata();
    return { x: 0, y: 0, width: m.width, height: m.height };
  };
  const crops = await Promise.all(photos.map(sprite));
  const walkersFor = (seed) =>
    photos.map((photo, i) => {
      const y = 120 + ((i * 230 + seed * 97) % 700);
      const left = (i + seed) % 2 === 0;
      return { photo, crop: crops[i], from: { t: 0, x: left ? 40 : 1500, y, width: 140 + 40 * i }, to: { t: 15, x: left ? 1500 : 60, y: y + 40, width: 260 + 30 * i } };
    });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-bench-vision-'));
  const cli = `${process.execPath} ${path.join(root, 'daemon/dist/cli/main.js')}`;
  try {
    const camera = { fps: 25, noise: 10, bitrateKbps: 4000 };
    const make = async (name, seconds, seed) => {
      const base = path.join(dir, `${name}-15s.ts`);
      await makeCctvVideo(base, { seconds: 15, walkers: walkersFor(seed), fps: camera.fps, noise: camera.noise, bitrateKbps: camera.bitrateKbps });
      const out = path.join(dir, `${name}.ts`);
      await lengthenVideo(base, out, seconds);
      return out;
    };
    log('making 60 s of 1080p25 video with 4 faces');
    const v60 = await make('cam60', 60, 0);
    const bytes = readFileSync(v60).length;
    log(`video: ${round((bytes * 8) / 60 / 1e6)} Mbit/s`);

    const pairs = [];
    const results = [];
    for (let i = 0; i < PAIRS; i++) {
      const decode = await measure(`ffmpeg -hide_banner -nostdin -loglevel error -i ${v60} -map 0:v:0 -vf fps=5 -f rawvideo -pix_fmt rgb24 - > /dev/null`, { log });
      const out = path.join(dir, `out60-${i}`);
      const pipeline = await measure(`${cli} analyse ${v60} --out ${out}`, { log });
      pairs.push({ decode, pipeline, ratio: round(pipeline.wall_s / decode.wall_s) });
      results.push(JSON.parse(readFileSync(path.join(out, 'result.json'), 'utf8')));
    }
    // the pair whose ratio is the median, with its own analysis result (stage times, counts)
    const midIndex = pairs.findIndex((p) => p.ratio === median(pairs.map((q) => q.ratio)));
    const { decode, pipeline, ratio } = pairs[midIndex];
    const r60 = results[midIndex];
    const clip = r60.clips[0];
    const peakRssMib = Math.max(...pairs.map((p) => p.pipeline.peak_rss_mib));

    log('making 4 cameras x 90 s');
    const cams = [];
    for (let c = 0; c < 4; c++) cams.push(await make(`inc${c}`, 90, c + 1));
    const outInc = path.join(dir, 'out-incident');
    const incident = await measure(`${cli} analyse ${cams.join(' ')} --out ${outInc}`, { log });
    const rInc = JSON.parse(readFileSync(path.join(outInc, 'result.json'), 'utf8'));

    const summary = {
      decode_only_wall_s: decode.wall_s,
      decode_only_cpu_s: decode.cpu_s,
      pipeline_wall_s: pipeline.wall_s,
      pipeline_cpu_s: pipeline.cpu_s,
      pipeline_vs_decode_wall: ratio,
      pipeline_vs_decode_wall_pairs: pairs.map((p) => p.ratio),
      decode_only_machine_cpu_s: decode.machine_busy_cpu_s,
      pipeline_machine_cpu_s: pipeline.machine_busy_cpu_s,
      pass_ratio_le_1_5: ratio <= 1.5,
      pass_peak_rss_le_1_gib: peakRssMib <= 1024,
      faces_per_s: round(clip.faces_detected / pipeline.wall_s, 1),
      peak_rss_mib: peakRssMib,
      subjects_60s: r60.subjects.length,
      incident_4x90s_wall_s: incident.wall_s,
      incident_peak_rss_mib: incident.peak_rss_mib,
      incident_subjects: rInc.subjects.length,
    };
    return {
      summary,
      targets: { pipeline_vs_decode_wall: '<= 1.5 (median of the pairs)', peak_rss_mib: '<= 1024', incident_4x90s_wall_s: '< 180' },
      video: { seconds: 60, width: 1920, height: 1080, fps: camera.fps, mbit_s: round((bytes * 8) / 60 / 1e6), faces: photos.length, dev_photos: existsSync(dev) },
      pairs,
      decode_only: decode,
      pipeline: { ...pipeline, frames: clip.frames_analysed, faces_detected: clip.faces_detected, faces_accepted: clip.faces_accepted, tracks: clip.tracks, stage_ms: r60.timings, ms_per_frame: round((pipeline.wall_s * 1000) / clip.frames_analysed, 1) },
      incident_4x90s: { ...incident, frames: rInc.clips.reduce((s, c) => s + c.frames_analysed, 0), subjects: rInc.subjects.length, stage_ms: rInc.timings },
      load_average_at_end: os.loadavg().map((x) => round(x)),
    };
  } finally {
    if (process.env.HINDSIGHT_BENCH_KEEP) log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
