import { copyFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DecodeChecker, DecodeWatch, keyframeProblems, type DecodeVerdict } from '../../../daemon/src/recorder/decode-check.js';
import { makeGarbageVideo, makeTestVideo } from '../../helpers/media.js';
import { tempDir } from '../../helpers/paths.js';

describe('decode check schedule', () => {
  /** A watch as the recorder makes it, and `close()`: a segment closes 4 s after the last; returns what is due. */
  const watch = (): { w: DecodeWatch; verdicts: DecodeVerdict[]; close: () => string | undefined; now: () => number } => {
    const verdicts: DecodeVerdict[] = [];
    const w = new DecodeWatch({ intervalMs: 60_000, failuresToJudge: 2, passesToTrust: 3, onVerdict: (v) => verdicts.push(v) });
    let t = 0;
    const close = (): string | undefined => {
      t += 4000;
      w.segmentClosed(`s${t}`, t);
      return w.take(t);
    };
    return { w, verdicts, close, now: () => t };
  };

  it('checks every segment until 3 pass after a start, then one segment closed an interval after the last check', () => {
    const { w, verdicts, close, now } = watch();
    for (let i = 0; i < 3; i++) {
      expect(close()).toBe(`s${now()}`);
      w.result(undefined);
    }
    expect(verdicts).toEqual([{ decodable: true, reason: '' }]);
    const trustedAt = now();
    const checked: number[] = [];
    while (now() < trustedAt + 130_000) if (close()) (checked.push(now()), w.result(undefined));
    expect(checked).toEqual([trustedAt + 60_000, trustedAt + 120_000]);
    // a restart of recording: every segment again
    w.runStarted();
    expect(close()).toBeDefined();
  });

  it('after a failed check, checks every segment again and judges after two failures in a row', () => {
    const { w, verdicts, close } = watch();
    for (let i = 0; i < 3; i++) (close(), w.result(undefined));
    while (!close()) continue; // one interval later
    w.result('error while decoding MB 1 0');
    expect(verdicts.at(-1)?.decodable).toBe(true);
    expect(close()).toBeDefined(); // the very next segment
    w.result('error while decoding MB 1 0');
    expect(verdicts.at(-1)).toMatchObject({ decodable: false, reason: expect.stringMatching(/does not decode/), detail: 'error while decoding MB 1 0' });
    // judged: once per interval until it decodes again
    expect(close()).toBeUndefined();
  });

  it('hands out one segment at a time', () => {
    const { w } = watch();
    w.segmentClosed('a', 1);
    expect(w.take(1)).toBe('a');
    w.segmentClosed('b', 2);
    expect(w.take(2)).toBeUndefined();
    w.result(undefined);
    expect(w.take(3)).toBe('b');
  });
});

describe('keyframe check of several segments in one ffmpeg', () => {
  const dir = tempDir();
  const good = [path.join(dir, 'good1.ts'), path.join(dir, 'good2.ts')];
  const bad = path.join(dir, 'bad.ts');
  beforeAll(async () => {
    await Promise.all([...good.map((f) => makeTestVideo(f, { seconds: 3, width: 320, height: 240, fps: 10, gop: 10 })), makeGarbageVideo(bad, { seconds: 3, width: 320, height: 240, fps: 10, gop: 10 })]);
  }, 60_000);

  it('passes decodable segments and names the one that does not decode', async () => {
    expect(await keyframeProblems('ffmpeg', good)).toEqual([undefined, undefined]);
    const r = await keyframeProblems('ffmpeg', [good[0]!, bad, good[1]!]);
    expect(r[0]).toBeUndefined();
    expect(r[1]).toMatch(/decod|corrupt|invalid|error/i);
    expect(r[2]).toBeUndefined();
  }, 60_000);

  it('works the same in the media sandbox (bubblewrap), which sees only the segments\' folder', async () => {
    const r = await keyframeProblems('ffmpeg', [good[0]!, bad], 'bwrap');
    expect(r[0]).toBeUndefined();
    expect(r[1]).toMatch(/decod|corrupt|invalid|error/i);
  }, 60_000);

  it('reports a file that is not video', async () => {
    const r = await keyframeProblems('ffmpeg', [path.join(dir, 'missing.ts')]);
    expect(r[0]).toMatch(/No such file|exited/);
  });

  it('a segment retention deleted before its check counts neither way; the next one is checked', async () => {
    const verdicts: DecodeVerdict[] = [];
    const w = new DecodeWatch({ intervalMs: 60_000, failuresToJudge: 1, passesToTrust: 3, onVerdict: (v) => verdicts.push(v) });
    const checker = new DecodeChecker({ ffmpeg: 'ffmpeg', sandbox: 'bwrap', roundMs: 50 });
    const stop = checker.watch(w);
    try {
      const gone = path.join(dir, 'gone.ts');
      copyFileSync(good[0]!, gone);
      w.segmentClosed(gone, 1);
      rmSync(gone); // a tight quota: deleted as soon as it closed
      await new Promise((r) => setTimeout(r, 1500));
      expect(verdicts).toEqual([]);
      w.segmentClosed(good[1]!, 2);
      for (let i = 0; i < 100 && verdicts.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(verdicts).toEqual([{ decodable: true, reason: '' }]);
    } finally {
      stop();
    }
  }, 60_000);
});
