import { copyFileSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SegmentRef } from '../../../daemon/src/incidents/buffer-port.js';
import { coverageOf, gapsIn } from '../../../daemon/src/incidents/coverage.js';
import { extractClip, type ClipResult } from '../../../daemon/src/incidents/clip-cut.js';
import { runCommand } from '../../../daemon/src/util/child.js';
import { sha256File } from '../../../daemon/src/util/hash.js';
import { decodeErrors, probe } from '../../helpers/media.js';
import { tempDir } from '../../helpers/paths.js';
import { garbleVideoPayload } from '../../helpers/ts-damage.js';

const BASE = Date.UTC(2026, 10, 29, 10, 0, 0);
const FPS = 10;

/** 20 s of 10 fps H.264 (keyframe every second) cut into 2 s MPEG-TS segments, as the recorder makes them. */
async function makeSegments(dir: string): Promise<SegmentRef[]> {
  const r = await runCommand('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc2=size=320x240:rate=${FPS}`, '-t', '20',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', String(FPS), '-keyint_min', String(FPS),
    '-f', 'segment', '-segment_time', '2', '-segment_list', path.join(dir, 'list.csv'), '-segment_list_type', 'csv',
    '-segment_format', 'mpegts', path.join(dir, 'seg%03d.ts'),
  ]);
  expect(r.code, r.stderr).toBe(0);
  return readSegmentList(path.join(dir, 'list.csv'), 'cam1');
}

/** The segment muxer's CSV list as index rows, the stream's time 0 at BASE. */
function readSegmentList(csv: string, cameraId: string): SegmentRef[] {
  return readFileSync(csv, 'utf8')
    .trim()
    .split('\n')
    .map((line, i) => {
      const [file, start, end] = line.split(',');
      return { id: i + 1, cameraId, file: path.join(path.dirname(csv), file!), startMs: BASE + Math.round(Number(start) * 1000), endMs: BASE + Math.round(Number(end) * 1000), bytes: 0, runId: 'r1' };
    });
}

describe('master clip extraction', () => {
  let segments: SegmentRef[];
  let dir: string;
  const tools = { ffmpeg: 'ffmpeg', ffprobe: 'ffprobe' };

  beforeAll(async () => {
    dir = tempDir();
    segments = await makeSegments(dir);
    expect(segments).toHaveLength(10);
  });

  it('starts on the keyframe at or before the window start and ends at the window end', async () => {
    const out = path.join(dir, 'clips', 'a.ts');
    const clip = await extractClip({ ...tools, segments, fromMs: BASE + 3300, toMs: BASE + 9700, outFile: out });
    expect(clip).not.toBeNull();
    expect(clip!.clipStartMs).toBe(BASE + 3000);
    expect(clip!.clipEndMs).toBe(BASE + 9700);
    const info = await probe(out, true);
    expect(info.frames).toBe(67); // 3.0 s .. 9.6 s at 10 fps
    expect(info.codec).toBe('h264');
    expect(await decodeErrors(out)).toBe('');
    expect(clip!.sha256).toBe(await sha256File(out));
    expect(clip!.coverage).toBe(1);
    expect(clip!.gaps).toEqual([]);
    expect(clip!.pieces).toEqual([{ clipOffsetMs: 0, utcStartMs: BASE + 3000, utcEndMs: BASE + 9700 }]);
    expect(readdirSync(path.dirname(out))).toEqual(['a.ts']); // no partial or list files left
  });

  it('reports a gap inside the window, its coverage and a timeline that skips it', async () => {
    const withHole = segments.filter((s) => s.startMs !== BASE + 6000); // the 6-8 s segment is missing
    const clip = await extractClip({ ...tools, segments: withHole, fromMs: BASE + 3300, toMs: BASE + 9700, outFile: path.join(dir, 'clips', 'b.ts') });
    expect(clip!.gaps).toEqual([{ startMs: BASE + 6000, endMs: BASE + 8000 }]);
    expect(clip!.coverage).toBeCloseTo(1 - 2000 / 6400, 6);
    expect(clip!.pieces).toEqual([
      { clipOffsetMs: 0, utcStartMs: BASE + 3000, utcEndMs: BASE + 6000 },
      { clipOffsetMs: 3000, utcStartMs: BASE + 8000, utcEndMs: BASE + 9700 },
    ]);
    expect((await probe(clip!.file, true)).frames).toBe(47);
  });

  it('extracts what exists of a window partly outside the buffer and says so', async () => {
    const clip = await extractClip({ ...tools, segments, fromMs: BASE - 5000, toMs: BASE + 3000, outFile: path.join(dir, 'clips', 'c.ts') });
    expect(clip!.clipStartMs).toBe(BASE);
    expect(clip!.gaps).toEqual([{ startMs: BASE - 5000, endMs: BASE }]);
    expect(clip!.coverage).toBeCloseTo(3 / 8, 6);
  });

  it('returns nothing for a window wholly outside the buffer', async () => {
    expect(await extractClip({ ...tools, segments, fromMs: BASE + 60_000, toMs: BASE + 70_000, outFile: path.join(dir, 'clips', 'd.ts') })).toBeNull();
  });

  it('fails clearly on a corrupt segment instead of writing a clip', async () => {
    const broken = [{ ...segments[0]!, file: path.join(dir, 'missing.ts') }];
    await expect(extractClip({ ...tools, segments: broken, fromMs: BASE, toMs: BASE + 1000, outFile: path.join(dir, 'clips', 'e.ts') })).rejects.toThrow(/could not cut/);
  });
});

/**
 * A clip that holds every frame from its first to its last at the stream's spacing, decodes, starts on a keyframe
 * (every 2 s) at or before the window start, and whose manifest figures are what ffprobe reads from it.
 */
async function expectWholeClip(clip: ClipResult, fromMs: number, frameMs: number): Promise<void> {
  const times = await frameTimes(clip.file);
  times.slice(1).forEach((t, i) => expect(Math.round((t - times[i]!) * 1000), 'no frame missing').toBe(frameMs));
  expect(await decodeErrors(clip.file)).toBe('');
  expect(clip.clipStartMs).toBeLessThanOrEqual(fromMs);
  expect(fromMs - clip.clipStartMs).toBeLessThan(2000);
  expect(clip.frames).toBe(times.length);
  expect(clip.lastFrameMs - clip.clipStartMs).toBe(Math.round((times[times.length - 1]! - times[0]!) * 1000));
}

/** Frame times (s, the clip's own) of a file's video as ffprobe reads them, in presentation order. */
async function frameTimes(file: string): Promise<number[]> {
  const r = await runCommand('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', file]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.toString('utf8').split('\n').filter((l) => l.trim()).map((l) => Number(l.split(',')[0])).sort((a, b) => a - b);
}

/**
 * Segments as the recorder writes them: a 25 fps H.264 camera stream with a keyframe every 2 s, copied
 * by the segment muxer into 4 s MPEG-TS segments with the recorder's flags.
 */
const X264_NO_BFRAMES = ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50', '-keyint_min', '50', '-sc_threshold', '0', '-bf', '0'];

async function recorderSegments(dir: string, seconds: number, encoder = X264_NO_BFRAMES, outputArgs: string[] = []): Promise<SegmentRef[]> {
  const camera = path.join(dir, 'camera.ts');
  const enc = await runCommand('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc2=size=320x240:rate=25`, '-t', String(seconds),
    ...encoder, '-f', 'mpegts', camera,
  ]);
  expect(enc.code, enc.stderr).toBe(0);
  const seg = await runCommand('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-i', camera, '-map', '0:v:0', '-c', 'copy', ...outputArgs, '-f', 'segment', '-segment_time', '4',
    '-segment_format', 'mpegts', '-segment_format_options', 'flush_packets=1', '-muxdelay', '0', '-muxpreload', '0',
    '-segment_list', path.join(dir, 'run.csv'), '-segment_list_type', 'csv', path.join(dir, 'run_%06d.ts'),
  ]);
  expect(seg.code, seg.stderr).toBe(0);
  return readSegmentList(path.join(dir, 'run.csv'), 'cam2');
}

describe('cutting exactly on recorder segments (4 s segments, 2 s keyframes)', () => {
  const tools = { ffmpeg: 'ffmpeg', ffprobe: 'ffprobe' };
  const FRAME_MS = 40;
  let dir: string;
  let segments: SegmentRef[];

  beforeAll(async () => {
    dir = tempDir();
    segments = await recorderSegments(dir, 16);
    expect(segments.map((s) => s.startMs - BASE)).toEqual([0, 4000, 8000, 12000]);
  });

  // every 0.5 s across two segments, including windows whose keyframe is a segment's first frame
  const starts = Array.from({ length: 16 }, (_, k) => 4000 + k * 500);
  it.each(starts)('a window starting %i ms in: first frame on its keyframe, last at its end, manifest measured from the clip', async (startOffset) => {
    const fromMs = BASE + startOffset;
    const toMs = fromMs + 2700;
    const out = path.join(dir, 'clips', `w${startOffset}.ts`);
    const clip = (await extractClip({ ...tools, segments, fromMs, toMs, outFile: out }))!;
    const keyframeMs = BASE + Math.floor(startOffset / 2000) * 2000; // keyframes at every 2 s of the stream
    const lastFrameMs = BASE + (Math.ceil((toMs - BASE) / FRAME_MS) - 1) * FRAME_MS;

    const times = await frameTimes(out);
    // the clip itself: every frame from the keyframe to the last frame before the window end, none lost
    expect(times).toHaveLength((lastFrameMs - keyframeMs) / FRAME_MS + 1);
    times.slice(1).forEach((t, i) => expect(Math.round((t - times[i]!) * 1000)).toBe(FRAME_MS));
    expect(await decodeErrors(out)).toBe('');
    // the manifest's figures are what ffprobe reads from the clip
    expect(clip.clipStartMs).toBe(keyframeMs);
    expect(clip.clipStartMs).toBeLessThanOrEqual(fromMs);
    expect(clip.frames).toBe(times.length);
    expect(clip.lastFrameMs - clip.clipStartMs).toBe(Math.round((times[times.length - 1]! - times[0]!) * 1000));
    expect(toMs - clip.lastFrameMs).toBeGreaterThan(0);
    expect(toMs - clip.lastFrameMs).toBeLessThanOrEqual(FRAME_MS);
    expect(clip.clipEndMs).toBe(clip.lastFrameMs + FRAME_MS);
    const heldMs = Math.min(clip.clipEndMs, toMs) - Math.max(clip.clipStartMs, fromMs);
    expect(clip.coverage).toBeCloseTo(heldMs / (toMs - fromMs), 6);
    expect(clip.gaps).toEqual([]);
    expect(clip.damaged).toEqual([]);
    expect(clip.pieces).toEqual([{ clipOffsetMs: 0, utcStartMs: keyframeMs, utcEndMs: clip.clipEndMs }]);
  });

  it('a clip of garbage video inside valid framing: the damaged stretch is reported and not counted as coverage', async () => {
    const damagedDir = path.join(dir, 'damaged');
    const copies = segments.map((s) => ({ ...s, file: path.join(dir, `bad-${path.basename(s.file)}`) }));
    for (let i = 0; i < segments.length; i++) copyFileSync(segments[i]!.file, copies[i]!.file);
    expect(garbleVideoPayload(copies[1]!.file)).toBeGreaterThan(100); // the 4-8 s segment is garbage
    const fromMs = BASE + 2500;
    const toMs = BASE + 10_500;
    const clip = (await extractClip({ ...tools, segments: copies, fromMs, toMs, outFile: path.join(damagedDir, 'd.ts') }))!;
    expect(await decodeErrors(clip.file)).not.toBe(''); // the clip really does not decode cleanly
    expect(clip.damaged).toEqual([{ startMs: BASE + 4000, endMs: BASE + 8000 }]);
    expect(clip.gaps).toEqual([]); // the footage is there; it is damaged, not missing
    expect(clip.coverage).toBeCloseTo(1 - 4000 / (toMs - fromMs), 6);
    expect(clip.frames).toBe((await frameTimes(clip.file)).length);
  });
});

describe('cutting exactly on H.265 with B-frames (shown in another order than decoded)', () => {
  const tools = { ffmpeg: 'ffmpeg', ffprobe: 'ffprobe' };
  const FRAME_MS = 40;
  const BFRAMES = 2;
  let dir: string;
  let segments: SegmentRef[];
  let segmentFirstPtsS: number;

  beforeAll(async () => {
    dir = tempDir();
    const x265 = ['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', `keyint=50:min-keyint=50:scenecut=0:bframes=${BFRAMES}:b-adapt=0:open-gop=0:log-level=error`];
    segments = await recorderSegments(dir, 16, x265);
    expect(segments).toHaveLength(4);
    // the truth: the first frame shown of the first segment, on the listed clock (the list says 0)
    segmentFirstPtsS = (await frameTimes(segments[0]!.file))[0]!;
    expect(segmentFirstPtsS).toBeCloseTo((BFRAMES * FRAME_MS) / 1000, 3);
  });

  // windows over three segments (only the first and last are read) ending at every frame of a B-frame group
  // (from the second segment on: the segment muxer lists a B-frame run's first segment from its first decode time)
  const ends = Array.from({ length: 2 * (BFRAMES + 1) }, (_, k) => 12_500 + k * FRAME_MS + FRAME_MS / 2);
  it.each(ends)('a window ending %i ms in: every frame shown before the end, none missing, the manifest measured in presentation order', async (endOffset) => {
    const fromMs = BASE + 4500;
    const toMs = BASE + endOffset;
    const clip = (await extractClip({ ...tools, segments, fromMs, toMs, outFile: path.join(dir, 'clips', `b${endOffset}.ts`) }))!;
    await expectWholeClip(clip, fromMs, FRAME_MS);
    // the last frame shown before the end is there; at most the reference frame its B-frames need comes after
    expect(clip.lastFrameMs).toBeGreaterThanOrEqual(toMs - FRAME_MS);
    expect(clip.lastFrameMs).toBeLessThan(toMs + BFRAMES * FRAME_MS);
    expect(clip.coverage).toBe(1);
  });

  // a window that starts in the run's first segment, listed by the segment muxer from its first decode time:
  // its frames keep their true times (the first shown is two frames after the listed start)
  const fromFirst = Array.from({ length: BFRAMES + 1 }, (_, k) => 8_500 + k * FRAME_MS + FRAME_MS / 2);
  it.each(fromFirst)('a window from the run\'s first segment to %i ms in: its first frame at its true time, every frame, none missing', async (endOffset) => {
    const fromMs = BASE + 1000;
    const toMs = BASE + endOffset;
    const firstShownMs = BASE + Math.round(segmentFirstPtsS * 1000);
    const clip = (await extractClip({ ...tools, segments, fromMs, toMs, outFile: path.join(dir, 'clips', `first${endOffset}.ts`) }))!;
    await expectWholeClip(clip, fromMs, FRAME_MS);
    expect(clip.clipStartMs).toBe(firstShownMs);
    expect(clip.lastFrameMs).toBeGreaterThanOrEqual(toMs - FRAME_MS);
    expect(clip.lastFrameMs).toBeLessThan(toMs + BFRAMES * FRAME_MS);
    expect(clip.coverage).toBe(1);
  });
});

describe('cutting across the 33-bit wrap of MPEG-TS times (the 27th hour of a recording run)', () => {
  const tools = { ffmpeg: 'ffmpeg', ffprobe: 'ffprobe' };
  const FRAME_MS = 40;
  const WRAP_S = 2 ** 33 / 90_000;
  let dir: string;
  let segments: SegmentRef[];

  beforeAll(async () => {
    dir = tempDir();
    // the segments' times start 10 s before the wrap: each file holds its times modulo 2^33
    const all = await recorderSegments(dir, 16, X264_NO_BFRAMES, ['-output_ts_offset', String(WRAP_S - 10)]);
    // (the segment muxer lists the first segment of an offset output from 0: it is left out)
    segments = all.slice(1);
    expect(segments.some((s) => s.startMs < BASE + WRAP_S * 1000 && s.endMs > BASE + WRAP_S * 1000 - 2000)).toBe(true);
  });

  it.each([-3000, -1500, 0, 1250])('a window starting %i ms from the wrap: every frame, at its time, decoding', async (offsetMs) => {
    const wrapMs = BASE + WRAP_S * 1000;
    const fromMs = Math.round(wrapMs + offsetMs);
    const toMs = fromMs + 4000;
    const clip = (await extractClip({ ...tools, segments, fromMs, toMs, outFile: path.join(dir, 'clips', `wrap${offsetMs}.ts`) }))!;
    await expectWholeClip(clip, fromMs, FRAME_MS);
    expect(toMs - clip.lastFrameMs).toBeGreaterThan(0);
    expect(toMs - clip.lastFrameMs).toBeLessThanOrEqual(FRAME_MS);
    expect(clip.coverage).toBe(1);
    expect(clip.gaps).toEqual([]);
  });
});

describe('coverage arithmetic', () => {
  it('merges overlaps and ignores sub-tolerance holes', () => {
    const iv = [
      { startMs: 0, endMs: 1000 },
      { startMs: 1100, endMs: 2000 },
      { startMs: 1500, endMs: 3000 },
    ];
    expect(gapsIn(iv, 0, 4000, 0)).toEqual([
      { startMs: 1000, endMs: 1100 },
      { startMs: 3000, endMs: 4000 },
    ]);
    expect(gapsIn(iv, 0, 4000, 250)).toEqual([{ startMs: 3000, endMs: 4000 }]);
    expect(coverageOf(iv, 0, 4000, 250)).toBe(0.75);
    expect(coverageOf([], 0, 10, 0)).toBe(0);
  });
});
