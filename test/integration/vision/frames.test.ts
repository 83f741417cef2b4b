import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeFrames, probeVideo, segmentSeekS } from '../../../daemon/src/vision/frame-source.js';
import { makeTestVideo } from '../../helpers/media.js';
import { tempDir } from '../../helpers/paths.js';

async function frameHashes(file: string, range?: { startS: number; durationS: number | undefined; seekS?: number | undefined }, release = false): Promise<{ t: number; h: string }[]> {
  const info = await probeVideo('ffprobe', file, 5);
  const out: { t: number; h: string }[] = [];
  for await (const f of decodeFrames('ffmpeg', file, info, 5, { warnings: [] }, range)) {
    expect(f.image.data.length).toBe(info.width * info.height * 3);
    out.push({ t: (range?.startS ?? 0) * 1000 + f.timeMs, h: createHash('sha256').update(f.image.data).digest('hex') });
    if (release) f.release();
  }
  return out;
}

describe('frame source (ffmpeg -> raw RGB at N fps)', () => {
  it('gives every frame of a segment exactly as a decode from the start would, at the same times', async () => {
    const dir = tempDir();
    // 1 keyframe every 3 s: seeking in MPEG-TS lands late, the pre-roll must make up for it
    const file = await makeTestVideo(path.join(dir, 'clip.ts'), { seconds: 14, width: 320, height: 240, fps: 25, gop: 75 });
    const whole = await frameHashes(file);
    expect(whole).toHaveLength(70);
    const a = await frameHashes(file, { startS: 0, durationS: 6 });
    const b = await frameHashes(file, { startS: 6, durationS: 4 });
    const c = await frameHashes(file, { startS: 10, durationS: undefined });
    expect([...a, ...b, ...c]).toEqual(whole);
    // the same when seeking just before the segment's last keyframe (found from the packet headers)
    const info = await probeVideo('ffprobe', file, 5);
    const seekB = await segmentSeekS('ffprobe', file, info, 6);
    const seekC = await segmentSeekS('ffprobe', file, info, 10.2);
    expect(seekB).toBeCloseTo(6, 1); // keyframes at 0, 3, 6, 9, 12 s
    expect(seekC).toBeCloseTo(9, 1);
    const b2 = await frameHashes(file, { startS: 6, durationS: 4, seekS: seekB });
    const c2 = await frameHashes(file, { startS: 10.2, durationS: undefined, seekS: seekC });
    expect(b2).toEqual(b);
    expect(c2).toEqual(whole.slice(51));
    expect(await segmentSeekS('ffprobe', file, info, 0)).toBeUndefined();
  });

  it('a seek to a keyframe off the analysis grid still gives the frames of a decode from the start', async () => {
    const dir = tempDir();
    // keyframes every 38 frames at 25 fps: 0, 1.52, 3.04, 4.56 s..., never on the 0.2 s grid
    const file = await makeTestVideo(path.join(dir, 'clip.ts'), { seconds: 10, width: 320, height: 240, fps: 25, gop: 38 });
    const whole = await frameHashes(file);
    expect(whole).toHaveLength(50);
    const seekS = await segmentSeekS('ffprobe', file, await probeVideo('ffprobe', file, 5), 5);
    expect(seekS).toBeCloseTo(4.56, 2);
    expect(await frameHashes(file, { startS: 5, durationS: 3, seekS })).toEqual(whole.slice(25, 40));
    expect(await frameHashes(file, { startS: 5, durationS: undefined, seekS })).toEqual(whole.slice(25));
  });

  it('released frames are reused without changing any frame (reuse is only of frames given back)', async () => {
    const dir = tempDir();
    const file = await makeTestVideo(path.join(dir, 'clip.ts'), { seconds: 6, width: 320, height: 240, fps: 25 });
    const info = await probeVideo('ffprobe', file, 5);
    const plain = await frameHashes(file);
    expect(await frameHashes(file, undefined, true)).toEqual(plain);
    // a frame kept (not released) keeps its pixels while later frames arrive; released buffers come back
    const buffers = new Set<Uint8Array>();
    let kept: { data: Uint8Array; h: string } | undefined;
    for await (const f of decodeFrames('ffmpeg', file, info, 5, { warnings: [] })) {
      buffers.add(f.image.data);
      if (f.index === 3) kept = { data: f.image.data, h: createHash('sha256').update(f.image.data).digest('hex') };
      else f.release();
    }
    expect(createHash('sha256').update(kept!.data).digest('hex')).toBe(kept!.h);
    expect(kept!.h).toBe(plain[3]!.h);
    expect(buffers.size).toBeLessThan(plain.length / 2);
  });

  it('a clip longer than memory would hold is streamed: frames are fresh buffers, pulled one at a time', async () => {
    const dir = tempDir();
    const file = await makeTestVideo(path.join(dir, 'long.ts'), { seconds: 20, width: 1280, height: 720, fps: 25 });
    const info = await probeVideo('ffprobe', file, 5);
    expect(info.expectedFrames).toBe(100);
    let n = 0;
    const rss: number[] = [];
    for await (const f of decodeFrames('ffmpeg', file, info, 5, { warnings: [] })) {
      n++;
      expect(f.timeMs).toBe((f.index * 1000) / 5);
      rss.push(process.memoryUsage().rss);
    }
    expect(n).toBe(100);
    // 100 frames of 2.7 MB were decoded; the process never held more than a few of them
    expect(Math.max(...rss) - Math.min(...rss)).toBeLessThan(160 * 2 ** 20);
  });

  it('frames come through a socket in a private folder (0700) that is gone after a decode, a failure and an abort', async () => {
    const dir = tempDir();
    const file = await makeTestVideo(path.join(dir, 'clip.ts'), { seconds: 4, width: 320, height: 240, fps: 25 });
    const info = await probeVideo('ffprobe', file, 5);
    const tmp = path.join(dir, 'tmp');
    mkdirSync(tmp);
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      let seen: { mode: number; socket: boolean } | undefined;
      let n = 0;
      for await (const f of decodeFrames('ffmpeg', file, info, 5, { warnings: [] })) {
        n++;
        f.release();
        if (seen) continue;
        const [folder] = readdirSync(tmp);
        expect(folder).toMatch(/^hindsight-frames-/);
        seen = { mode: statSync(path.join(tmp, folder!)).mode & 0o777, socket: statSync(path.join(tmp, folder!, 'frames.sock')).isSocket() };
      }
      expect(n).toBe(20);
      expect(seen).toEqual({ mode: 0o700, socket: true });
      expect(readdirSync(tmp)).toEqual([]);

      // a file that is no video: ffmpeg exits before it opens the socket; a clear error, nothing left
      const junk = path.join(dir, 'junk.ts');
      writeFileSync(junk, randomBytes(200_000));
      const failing = (async () => {
        for await (const f of decodeFrames('ffmpeg', junk, info, 5, { warnings: [] })) f.release();
      })();
      await expect(failing).rejects.toMatchObject({ code: 'video_undecodable', message: expect.stringMatching(/no frame could be decoded/) });
      expect(readdirSync(tmp)).toEqual([]);

      // aborted after two frames: the decoder stops, the folder goes
      const abort = new AbortController();
      const aborted = (async () => {
        for await (const f of decodeFrames('ffmpeg', file, info, 5, { warnings: [] }, undefined, abort.signal)) {
          f.release();
          if (f.index === 1) abort.abort();
        }
      })();
      await expect(aborted).rejects.toThrow();
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
  });
});
