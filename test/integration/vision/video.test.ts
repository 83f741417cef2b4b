import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AnalysisResult, Subject } from '../../../daemon/src/vision/result.js';
import { decodeFrames, probeVideo } from '../../../daemon/src/vision/frame-source.js';
import { runCli, writeConfig } from '../../helpers/cli.js';
import { FACES_DIR, HAVE_FACES, NO_FACES_MESSAGE, PUBLIC_FACE } from '../../helpers/faces.js';
import { makeCctvVideo } from '../../helpers/media.js';
import { tempDir } from '../../helpers/paths.js';
import { descendants } from '../../helpers/process.js';
import { defaultVisionOptions, walker, whoIsAt, type KnownWalker } from '../../helpers/walkers.js';

// The worker thread needs compiled JavaScript: in-process tests use the build (kept current by global setup).
const { analyseIncident } = (await import('../../../daemon/dist/vision/incident.js')) as typeof import('../../../daemon/src/vision/incident.js');

const START = '2026-03-01T10:00:00.000Z';

function readResult(dir: string): AnalysisResult {
  return JSON.parse(readFileSync(path.join(dir, 'result.json'), 'utf8')) as AnalysisResult;
}

/** Every file named in the result exists with the recorded SHA-256, and no other file is left. */
function checkFiles(dir: string, result: AnalysisResult): void {
  const named = new Set<string>(['result.json']);
  for (const s of result.subjects) {
    for (const f of [...s.crops.flatMap((c) => [c.crop, c.aligned]), ...(s.context ? [s.context] : [])]) {
      named.add(f.path);
      const bytes = readFileSync(path.join(dir, f.path));
      expect(createHash('sha256').update(bytes).digest('hex'), f.path).toBe(f.sha256);
      expect(bytes.length).toBe(f.bytes);
    }
  }
  const present = (readdirSync(dir, { recursive: true }) as string[]).filter((p) => statSync(path.join(dir, p)).isFile());
  expect(present.sort()).toEqual([...named].sort());
}

/** All crops of a subject are on one walker's face; returns that walker. */
function walkerOf(s: Subject, walkers: KnownWalker[], startMs: number): KnownWalker | undefined {
  const names = s.crops.map((c) => whoIsAt(walkers, (Date.parse(c.time_utc) - startMs) / 1000, c.box)?.name);
  expect(new Set(names).size, `${s.id} crops belong to ${names.join(', ')}`).toBe(1);
  return walkers.find((w) => w.name === names[0]);
}

/**
 * The context frame is the frame it is dated at (frame buffers are reused once no track keeps them: a
 * buffer given back too early would show a later frame), and not its neighbours a second away.
 */
async function checkContextFrame(out: string, s: Subject, video: string): Promise<void> {
  const { default: sharp } = await import('sharp');
  const context = await sharp(path.join(out, s.context!.path)).removeAlpha().raw().toBuffer();
  const offsetMs = Date.parse(s.context!.time_utc) - Date.parse(START);
  const info = await probeVideo('ffprobe', video, 5);
  const diffs = new Map<number, number>();
  for await (const f of decodeFrames('ffmpeg', video, info, 5, { warnings: [] })) {
    if (Math.abs(f.timeMs - offsetMs) > 1000) continue;
    let sum = 0;
    for (let i = 0; i < context.length; i++) sum += Math.abs(context[i]! - f.image.data[i]!);
    diffs.set(f.timeMs - offsetMs, sum / context.length);
  }
  const at = diffs.get(0)!;
  expect(at, `context frame against the frame at ${offsetMs} ms`).toBeLessThan(4);
  for (const dt of [-1000, 1000]) if (diffs.has(dt)) expect(diffs.get(dt)!, `the frame ${dt} ms away`).toBeGreaterThan(at + 1);
}

/**
 * The kept crops are among the largest and sharpest faces of the subject's tracks: each at least 80 % of
 * the largest face seen (size counts up to 100 px between the eyes, see qualityRank) and not blurrier
 * than the track's median face (10 % tolerance: past the photo's own resolution a face grows blurrier as it
 * grows, and the ranking trades the two).
 */
function checkBestCrops(s: Subject, k: number): void {
  expect(s.crops).toHaveLength(k);
  const maxEyes = Math.min(100, Math.max(...s.tracks.map((t) => t.max_eye_distance)));
  const medianSharp = Math.min(...s.tracks.map((t) => t.median_sharpness));
  for (const [i, c] of s.crops.entries()) {
    expect(c.quality.eye_distance, `${s.id} crop ${i + 1} size`).toBeGreaterThanOrEqual(0.8 * maxEyes);
    expect(c.quality.sharpness, `${s.id} crop ${i + 1} sharpness`).toBeGreaterThanOrEqual(0.9 * medianSharp);
    if (i > 0) expect(c.rank).toBeLessThanOrEqual(s.crops[i - 1]!.rank);
  }
}

describe('hindsight analyse on CCTV-like video (fresh clone: public-domain face)', () => {
  const dir = tempDir();
  const video = path.join(dir, 'cam.ts');
  let hopper: KnownWalker;
  beforeAll(async () => {
    // walks in from the left, growing as she approaches the camera
    hopper = await walker('hopper', PUBLIC_FACE, { t: 0.5, x: 100, y: 420, width: 110 }, { t: 7.5, x: 1400, y: 300, width: 380 });
    await makeCctvVideo(video, { seconds: 8, fps: 10, walkers: [hopper], noise: 10, crf: 28 });
  });

  it('one person gives exactly one subject, with the 3 best crops, a context frame, hashes, models and timings', async () => {
    const out = path.join(dir, 'out');
    const r = await runCli(['analyse', video, '--out', out, '--start', START]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/1 subject\(s\)/);
    const result = readResult(out);
    expect(result.mode).toBe('embeddings');
    expect(result.models.map((m) => m.role)).toEqual(['detector', 'landmarks', 'embedder']);
    for (const m of result.models) expect(m.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(result.clips[0]).toMatchObject({ camera_id: 'cam1', width: 1920, height: 1080, clip_start_utc: START });
    expect(result.clips[0]!.frames_analysed).toBe(40);
    for (const k of ['decode_wait_ms', 'detect_ms', 'landmarks_ms', 'align_quality_ms', 'embed_ms', 'track_ms', 'write_ms']) expect(result.timings).toHaveProperty(k);
    expect(result.subjects).toHaveLength(1);
    const s = result.subjects[0]!;
    expect(walkerOf(s, [hopper], Date.parse(START))?.name).toBe('hopper');
    checkBestCrops(s, 3);
    expect(s.crops[0]!.embedding).toHaveLength(512);
    expect(s.context).toMatchObject({ camera_id: 'cam1', path: 'subjects/s001/context.jpg' });
    await checkContextFrame(out, s, video);
    checkFiles(out, result);
  });

  it('a clip cut into segments for parallel workers still gives one subject: the cut track is joined again', async () => {
    const out = path.join(dir, 'segmented');
    const config = writeConfig(dir, { vision: { segment_seconds: 5, workers: 2 } }, 'segmented.yaml');
    const r = await runCli(['analyse', video, '--out', out, '--start', START, '--config', config]);
    expect(r.code, r.stderr).toBe(0);
    const result = readResult(out);
    expect(result.clips[0]!.segments).toBe(2);
    expect(result.clips[0]!.frames_analysed).toBe(40);
    expect(result.subjects).toHaveLength(1);
    expect(result.subjects[0]!.tracks.length).toBeGreaterThanOrEqual(2);
    expect(walkerOf(result.subjects[0]!, [hopper], Date.parse(START))?.name).toBe('hopper');
    await checkContextFrame(out, result.subjects[0]!, video);
    checkFiles(out, result);
  });

  it('crops-only mode computes and stores no embedding and does not load the embedder', async () => {
    const out = path.join(dir, 'crops-only');
    const r = await runCli(['analyse', video, '--out', out, '--start', START, '--crops-only']);
    expect(r.code, r.stderr).toBe(0);
    const result = readResult(out);
    expect(result.mode).toBe('crops_only');
    expect(result.models.map((m) => m.role)).toEqual(['detector', 'landmarks']);
    expect(result.timings.embed_ms).toBe(0);
    expect(result.subjects).toHaveLength(1);
    expect(JSON.stringify(result)).not.toMatch(/"embedding"/);
    checkFiles(out, result);
  });

  it('hardware decoding configured where the GPU is missing: decoded in software, the same result, and the analysis says so', async () => {
    const clip = { cameraId: 'till-2', file: video, clipStartUtcMs: Date.parse(START) };
    const soft = await analyseIncident({ clips: [clip], outDir: path.join(dir, 'soft'), options: defaultVisionOptions() });
    const device = path.join(dir, 'no-gpu', 'renderD128');
    const hw = await analyseIncident({ clips: [clip], outDir: path.join(dir, 'vaapi'), options: { ...defaultVisionOptions(), vaapiDevice: device } });
    expect(soft.clips[0]!.warnings.join('\n')).not.toMatch(/VA-API/);
    // ffmpeg's own words for the device it could not open: the GPU path was asked for, then left
    expect(hw.clips[0]!.warnings.join('\n')).toMatch(new RegExp(`hardware decoding \\(VA-API, ${device}\\) failed, decoded in software: .*(device|vaapi|VA)`, 'i'));
    expect(soft.subjects).toHaveLength(1);
    expect(hw.clips[0]!.frames_analysed).toBe(soft.clips[0]!.frames_analysed);
    expect(soft.clips[0]!.frames_analysed).toBeGreaterThan(0);
    expect(hw.subjects.map((x) => x.crops.map((c) => c.crop.sha256))).toEqual(soft.subjects.map((x) => x.crops.map((c) => c.crop.sha256)));
  });

  it('reports progress (frames done / total) and can be cancelled, stopping its ffmpeg', async () => {
    const progress: number[] = [];
    const done = await analyseIncident({
      clips: [{ cameraId: 'till-2', file: video, clipStartUtcMs: Date.parse(START) }],
      outDir: path.join(dir, 'in-process'),
      options: defaultVisionOptions(),
      onProgress: (p) => progress.push(p.framesDone / p.framesTotal),
    });
    expect(done.subjects).toHaveLength(1);
    expect(progress.length).toBe(40);
    expect(progress.at(-1)).toBe(1);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);

    const abort = new AbortController();
    const cancelled = analyseIncident({
      clips: [{ cameraId: 'till-2', file: video, clipStartUtcMs: 0 }],
      outDir: path.join(dir, 'cancelled'),
      options: defaultVisionOptions(),
      onProgress: (p) => {
        if (p.framesDone === 3) abort.abort();
      },
      signal: abort.signal,
    });
    await expect(cancelled).rejects.toMatchObject({ code: 'aborted' });
    expect(descendants(process.pid).length).toBe(0);
    expect(existsSync(path.join(dir, 'cancelled', '.work'))).toBe(false);
  });

  it('runs below the recorder: its worker processes (every thread) and their decoders at nice 10, the calling process unchanged', async () => {
    /** The nice value in a /proc stat file (the 17th field after the command name). */
    const niceOf = (stat: string): number => Number(readFileSync(stat, 'latin1').split(') ').pop()!.split(' ')[16]);
    const threadsOf = (pid: number): number[] => readdirSync(`/proc/${pid}/task`).map((t) => niceOf(`/proc/${pid}/task/${t}/stat`));
    const comm = (pid: number): string => readFileSync(`/proc/${pid}/comm`, 'latin1').trim();
    const seen: { own: number[]; workers: number[][]; decoders: number[] }[] = [];
    await analyseIncident({
      clips: [{ cameraId: 'till-2', file: video, clipStartUtcMs: Date.parse(START) }],
      outDir: path.join(dir, 'niced'),
      options: defaultVisionOptions(),
      onProgress: (p) => {
        if (p.framesDone !== 5) return;
        const kids = descendants(process.pid);
        seen.push({
          own: threadsOf(process.pid),
          workers: kids.filter((d) => comm(d) === 'node').map(threadsOf),
          decoders: kids.filter((d) => comm(d) === 'ffmpeg').map((d) => niceOf(`/proc/${d}/stat`)),
        });
      },
    });
    expect(seen).toHaveLength(1);
    const [at] = seen;
    expect(at!.own.every((n) => n === 0), `the calling process's threads (the recorder in a daemon): ${at!.own.join(', ')}`).toBe(true);
    expect(at!.workers.length, 'the worker process is running').toBeGreaterThanOrEqual(1);
    for (const threads of at!.workers) expect(threads.every((n) => n === 10), `a worker's threads: ${threads.join(', ')}`).toBe(true);
    expect(at!.decoders.length, 'the decoder is running').toBeGreaterThanOrEqual(1);
    expect(at!.decoders.every((n) => n === 10), `decoders' nice: ${at!.decoders.join(', ')}`).toBe(true);
  });

  it('a worker that dies (a native crash, the OOM killer) fails that analysis with the reason; the caller carries on', async () => {
    let killed: number | undefined;
    const crashed = analyseIncident({
      clips: [{ cameraId: 'till-2', file: video, clipStartUtcMs: Date.parse(START) }],
      outDir: path.join(dir, 'crashed'),
      options: defaultVisionOptions(),
      onProgress: (p) => {
        if (killed !== undefined || p.framesDone < 3) return;
        killed = descendants(process.pid).find((d) => readFileSync(`/proc/${d}/comm`, 'latin1').trim() === 'node');
        if (killed) process.kill(killed, 'SIGKILL');
      },
    });
    await expect(crashed).rejects.toMatchObject({ code: 'worker_failed', message: expect.stringMatching(/face analysis worker exited unexpectedly \(SIGKILL\)/) });
    expect(killed).toBeDefined();
    expect(descendants(process.pid).length, 'no worker or decoder left').toBe(0);
    // the next analysis in the same process works
    const again = await analyseIncident({ clips: [{ cameraId: 'till-2', file: video, clipStartUtcMs: Date.parse(START) }], outDir: path.join(dir, 'after-crash'), options: defaultVisionOptions() });
    expect(again.subjects).toHaveLength(1);
  });

  it('models that fail their hash check in the workers fail the analysis clearly, leaving no ffmpeg behind', async () => {
    // the workers may start decoding before their models have loaded: a load failure leaves no decoder
    const models = path.join(dir, 'bad-models');
    mkdirSync(models);
    const options = defaultVisionOptions();
    for (const f of readdirSync(options.modelsDir)) copyFileSync(path.join(options.modelsDir, f), path.join(models, f));
    const detector = path.join(models, 'fr_detect.onnx');
    const bytes = readFileSync(detector);
    bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
    writeFileSync(detector, bytes);
    const failed = analyseIncident({
      clips: [{ cameraId: 'till-2', file: video, clipStartUtcMs: 0 }],
      outDir: path.join(dir, 'bad-models-out'),
      options: { ...options, modelsDir: models },
    });
    await expect(failed).rejects.toThrow(/fr_detect\.onnx/);
    expect(descendants(process.pid).length).toBe(0);
  });

  it('bad input: empty file, garbage, a damaged clip and a video with no face', async () => {
    const empty = path.join(dir, 'empty.ts');
    const garbage = path.join(dir, 'garbage.mp4');
    const damaged = path.join(dir, 'damaged.ts');
    const noFace = path.join(dir, 'noface.ts');
    writeFileSync(empty, '');
    writeFileSync(garbage, Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7919) % 251)));
    const bytes = readFileSync(video);
    // overwrite a stretch in the middle with junk: ffmpeg complains, the rest is still analysed
    for (let i = Math.floor(bytes.length * 0.4); i < Math.floor(bytes.length * 0.55); i++) bytes[i] = (i * 31) % 256;
    writeFileSync(damaged, bytes);
    await makeCctvVideo(noFace, { seconds: 3, fps: 10, walkers: [] });

    for (const [file, why] of [
      [empty, /not a readable video/],
      [garbage, /not a readable video|no frame could be decoded/],
    ] as const) {
      const r = await runCli(['analyse', file, '--out', path.join(dir, `out-${path.basename(file)}`)]);
      expect(r.code, file).toBe(1);
      expect(r.stderr).toMatch(why);
      expect(r.stderr).toMatch(/what to do:/);
    }

    const d = await runCli(['analyse', damaged, '--out', path.join(dir, 'out-damaged'), '--start', START]);
    expect(d.code, d.stderr).toBe(0);
    const dr = readResult(path.join(dir, 'out-damaged'));
    expect(dr.clips[0]!.warnings.length).toBeGreaterThan(0);
    expect(dr.subjects.length).toBeGreaterThanOrEqual(1);

    const n = await runCli(['analyse', noFace, '--out', path.join(dir, 'out-noface')]);
    expect(n.code, n.stderr).toBe(0);
    const nr = readResult(path.join(dir, 'out-noface'));
    expect(nr.subjects).toEqual([]);
    expect(nr.clips[0]!.faces_detected).toBe(0);

    // one good and one bad clip: the good one is analysed, the bad one reported, exit 1
    const mixed = await runCli(['analyse', video, empty, '--out', path.join(dir, 'out-mixed'), '--start', START]);
    expect(mixed.code).toBe(1);
    expect(mixed.stderr).toMatch(/cam2 .*not a readable video/);
    const mr = readResult(path.join(dir, 'out-mixed'));
    expect(mr.subjects).toHaveLength(1);
    expect(mr.clips[1]!.error).toMatch(/not a readable video/);
  });
});

if (!HAVE_FACES) console.warn(NO_FACES_MESSAGE);

describe.skipIf(!HAVE_FACES)('several people crossing, scale changes, two cameras (acceptance check 2, dev photos)', () => {
  it('every person becomes exactly one subject and the chosen crops are the best of their track', async () => {
    const dir = tempDir();
    const photo = (id: string): string => path.join(FACES_DIR, id, '1.jpg');
    const S = 12;
    // A and B walk towards each other on the same line and cross around t=6 s (B passes in front of A);
    // C comes close to the camera then leaves; D stays small (about 15 px between the eyes) at the top.
    const walkers = [
      await walker('A', photo('df02'), { t: 0, x: 60, y: 380, width: 130 }, { t: S, x: 1600, y: 360, width: 260 }),
      await walker('B', photo('df04'), { t: 0, x: 1650, y: 360, width: 140 }, { t: S, x: 80, y: 380, width: 220 }),
      await walker('C', photo('df06'), { t: 1, x: 700, y: 640, width: 380 }, { t: S - 1, x: 950, y: 700, width: 120 }),
      await walker('D', photo('df08'), { t: 0.5, x: 250, y: 60, width: 70 }, { t: S, x: 1350, y: 90, width: 80 }),
    ];
    const cam1 = path.join(dir, 'cam1.ts');
    const cam2 = path.join(dir, 'cam2.ts');
    await makeCctvVideo(cam1, { seconds: S, fps: 10, walkers, noise: 10, crf: 28 });
    // a second camera sees A and C later, from elsewhere
    const later = [
      { ...walkers[0]!, from: { t: 0, x: 1500, y: 500, width: 200 }, to: { t: 5, x: 900, y: 450, width: 240 } },
      { ...walkers[2]!, from: { t: 1, x: 200, y: 300, width: 150 }, to: { t: 5, x: 600, y: 300, width: 180 } },
    ];
    await makeCctvVideo(cam2, { seconds: 5, fps: 10, walkers: later, noise: 10, crf: 30 });
    const out = path.join(dir, 'out');
    const start = Date.parse(START);
    const r = await runCli(['analyse', cam1, cam2, '--out', out, '--start', START], { timeoutMs: 600_000 });
    expect(r.code, r.stderr).toBe(0);
    const result = readResult(out);
    const summary = result.subjects.map((s) => ({ id: s.id, cameras: s.cameras, tracks: s.tracks.length, eyes: s.crops.map((c) => Math.round(c.quality.eye_distance)) }));
    console.log('subjects:', JSON.stringify(summary), 'clips:', JSON.stringify(result.clips.map((c) => ({ faces: c.faces_detected, accepted: c.faces_accepted, rejected: c.rejected, tracks: c.tracks }))));
    expect(result.subjects).toHaveLength(4);
    const byWalker = new Map<string, Subject>();
    for (const s of result.subjects) {
      // crops of a subject seen on camera 2 are checked against camera 2's walkers
      const who = s.crops.map((c) => whoIsAt(c.camera_id === 'cam1' ? walkers : later, (Date.parse(c.time_utc) - start) / 1000, c.box)?.name);
      expect(new Set(who).size, `${s.id}: ${who.join(',')}`).toBe(1);
      expect(who[0]).toBeDefined();
      expect(byWalker.has(who[0]!), `${who[0]} split into two subjects`).toBe(false);
      byWalker.set(who[0]!, s);
      checkBestCrops(s, 3);
    }
    expect([...byWalker.keys()].sort()).toEqual(['A', 'B', 'C', 'D']);
    expect(byWalker.get('A')!.cameras).toEqual(['cam1', 'cam2']);
    expect(byWalker.get('C')!.cameras).toEqual(['cam1', 'cam2']);
    expect(byWalker.get('D')!.crops[0]!.quality.eye_distance).toBeLessThan(20);
    checkFiles(out, result);
  });
});
