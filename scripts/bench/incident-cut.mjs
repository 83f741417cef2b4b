// The incident cut alone, timed: 2 cameras x a 90 s window of 1080p H.264 (25 fps, keyframe every 2 s,
// 4 Mbit/s) in 4 s MPEG-TS segments made as the recorder makes them. Figures: seconds per cut (packet
// reads, byte trim, concat copy, measuring the clip, keyframe decode check), the decode check alone, and
// what a decode of every frame of the same clip would cost instead.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { round } from './_measure.mjs';

const SECONDS = 100;
const WINDOW_S = 90;
const CAMERAS = 2;

export async function run({ root, log }) {
  const dist = (p) => import(path.join(root, 'daemon/dist', p));
  const { extractClip } = await dist('incidents/clip-cut.js');
  const { runCommand } = await dist('util/child.js');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-bench-cut-'));
  const ok = (r) => {
    if (r.code !== 0) throw new Error(r.stderr);
    return r;
  };
  try {
    log(`making ${SECONDS} s of 1080p footage in 4 s segments`);
    const camera = path.join(dir, 'camera.ts');
    ok(await runCommand('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=25', '-t', String(SECONDS), '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '4M', '-g', '50', '-keyint_min', '50', '-sc_threshold', '0', '-bf', '0', '-f', 'mpegts', camera]));
    ok(await runCommand('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', camera, '-map', '0:v:0', '-c', 'copy', '-f', 'segment', '-segment_time', '4', '-segment_format', 'mpegts', '-segment_format_options', 'flush_packets=1', '-muxdelay', '0', '-muxpreload', '0', '-segment_list', path.join(dir, 'run.csv'), '-segment_list_type', 'csv', path.join(dir, 'run_%06d.ts')]));
    const base = Date.UTC(2026, 0, 1);
    const segments = readFileSync(path.join(dir, 'run.csv'), 'utf8').trim().split('\n').map((line, i) => {
      const [file, start, end] = line.split(',');
      return { id: i + 1, cameraId: 'cam', file: path.join(dir, file), startMs: base + Math.round(Number(start) * 1000), endMs: base + Math.round(Number(end) * 1000), bytes: 1, runId: 'r' };
    });
    // a window starting 0.3 s after a keyframe that is not a segment's first frame, ending mid-segment
    const fromMs = base + 6300;
    const toMs = fromMs + WINDOW_S * 1000;

    log(`cutting ${CAMERAS} x ${WINDOW_S} s`);
    const t0 = performance.now();
    const clips = [];
    for (let c = 0; c < CAMERAS; c++) clips.push(await extractClip({ segments, fromMs, toMs, outFile: path.join(dir, 'clips', `cam${c}.ts`), ffmpeg: 'ffmpeg', ffprobe: 'ffprobe' }));
    const cutS = (performance.now() - t0) / 1000;

    const file = clips[0].file;
    const timed = async (args) => {
      const t = performance.now();
      ok(await runCommand('ffmpeg', args));
      return (performance.now() - t) / 1000;
    };
    const keyframeDecodeS = await timed(['-hide_banner', '-nostdin', '-loglevel', 'error', '-threads', '1', '-flags', 'low_delay', '-skip_frame', 'nokey', '-i', file, '-map', '0:v:0', '-vf', 'showinfo', '-f', 'null', '-']);
    const fullDecodeS = await timed(['-hide_banner', '-nostdin', '-loglevel', 'error', '-i', file, '-map', '0:v:0', '-f', 'null', '-']);
    const figures = {
      cameras: CAMERAS,
      window_s: WINDOW_S,
      resolution: '1920x1080',
      cut_all_s: round(cutS, 2),
      cut_per_camera_s: round(cutS / CAMERAS, 2),
      clip_frames: clips[0].frames ?? null,
      clip_coverage: clips[0].coverage,
      keyframe_decode_check_s: round(keyframeDecodeS, 2),
      full_decode_check_s: round(fullDecodeS, 2),
    };
    return { ...figures, summary: { cut_all_s: figures.cut_all_s, keyframe_decode_check_s: figures.keyframe_decode_check_s, full_decode_check_s: figures.full_decode_check_s } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
