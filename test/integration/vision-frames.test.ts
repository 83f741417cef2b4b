import { createHash } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeFrames, probeVideo } from '../../daemon/src/vision/frame-source.js';
import { makeTestVideo } from '../helpers/media.js';
import { tempDir } from '../helpers/paths.js';

async function frameHashes(file: string, range?: { startS: number; durationS: number | undefined }): Promise<{ t: number; h: string }[]> {
  const info = await probeVideo('ffprobe', file, 5);
  const out: { t: number; h: string }[] = [];
  for await (const f of decodeFrames('ffmpeg', file, info, 5, { warnings: [] }, range)) {
    expect(f.image.data.length).toBe(info.width * info.height * 3);
    out.push({ t: (range?.startS ?? 0) * 1000 + f.timeMs, h: createHash('sha256').update(f.image.data).digest('hex') });
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
});
