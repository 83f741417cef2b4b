import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SegmentRef } from '../../daemon/src/incidents/buffer-port.js';
import { coverageOf, gapsIn } from '../../daemon/src/incidents/coverage.js';
import { extractClip } from '../../daemon/src/incidents/extract.js';
import { runCommand } from '../../daemon/src/util/child.js';
import { sha256File } from '../../daemon/src/util/hash.js';
import { decodeErrors, probe } from '../helpers/media.js';
import { tempDir } from '../helpers/paths.js';

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
  return readFileSync(path.join(dir, 'list.csv'), 'utf8')
    .trim()
    .split('\n')
    .map((line, i) => {
      const [file, start, end] = line.split(',');
      return { id: i + 1, cameraId: 'cam1', file: path.join(dir, file!), startMs: BASE + Math.round(Number(start) * 1000), endMs: BASE + Math.round(Number(end) * 1000), bytes: 0, runId: 'r1' };
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
