import { appendFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { explainFfmpegFailure, scrubSecrets } from '../../../daemon/src/cameras/ffmpeg-errors.js';
import { parseTimeArg } from '../../../daemon/src/cli/time-arg.js';
import { Backoff } from '../../../daemon/src/recorder/backoff.js';
import { recordArgs, steadyClock } from '../../../daemon/src/recorder/ffmpeg-args.js';
import { explainRunEnd } from '../../../daemon/src/recorder/run-outcome.js';
import type { RecorderSettings } from '../../../daemon/src/recorder/settings.js';
import { SegmentListTail } from '../../../daemon/src/recorder/segment-list.js';
import { WallAnchor } from '../../../daemon/src/recorder/wall-anchor.js';
import { tempDir } from '../../helpers/paths.js';

describe('restart backoff', () => {
  it('doubles from the initial delay up to the cap, with bounded jitter, and resets after a good run', () => {
    const exact = new Backoff(500, 4000, 0.2, () => 0.5);
    expect([1, 2, 3, 4, 5, 6].map(() => exact.next())).toEqual([500, 1000, 2000, 4000, 4000, 4000]);
    exact.reset();
    expect(exact.next()).toBe(500);
    const low = new Backoff(1000, 30_000, 0.2, () => 0);
    const high = new Backoff(1000, 30_000, 0.2, () => 0.999999);
    expect(low.next()).toBe(800);
    expect(high.next()).toBe(1200);
    const random = new Backoff(1000, 30_000);
    for (let i = 0; i < 50; i++) {
      const d = random.next();
      expect(d).toBeGreaterThanOrEqual(800);
      expect(d).toBeLessThanOrEqual(36_000);
    }
  });
});

describe('wall-clock anchor of a run', () => {
  const T0 = Date.UTC(2026, 2, 1, 12, 0, 0);

  it('takes the least-delayed observation as the offset, whatever the delays', () => {
    const a = new WallAnchor();
    const delays = [180, 35, 420, 12, 90, 250, 60];
    delays.forEach((d, i) => a.observe(T0 + (i + 1) * 4000 + d, (i + 1) * 4));
    expect(a.offsetMs).toBe(T0 + 12);
    expect(a.toWallMs(10)).toBe(T0 + 12 + 10_000);
  });

  it('is not settled while ffmpeg catches up after probing (segments close in a burst), then settles', () => {
    const a = new WallAnchor();
    // ffmpeg probed for 3 s, then muxed the buffered 0-3 s at once: segments ending at 1, 2, 3 s close at T0+3.1 s
    for (const end of [1, 2, 3]) {
      a.observe(T0 + 3100 + end * 10, end);
      expect(a.settled, `after the segment ending at ${end} s`).toBe(false);
    }
    a.observe(T0 + 4000 + 30, 4); // real time from here on: the estimate stops falling
    expect(a.settled).toBe(true);
    expect(a.offsetMs).toBe(T0 + 30);
    // a camera that never gives a steady answer is trusted after five observations
    const b = new WallAnchor();
    for (let i = 1; i <= 5; i++) b.observe(T0 + 10_000 - i * 500, i);
    expect(b.settled).toBe(true);
  });

  it('follows a camera clock that runs slow (the window forgets old observations)', () => {
    const a = new WallAnchor(8);
    // the camera's clock loses 1 ms per segment against the box
    for (let i = 1; i <= 40; i++) a.observe(T0 + i * 4000 + i, i * 4);
    expect(a.offsetMs).toBe(T0 + 33);
  });

  it('re-anchors after a persistent clock jump, but not on a single late observation', () => {
    const a = new WallAnchor();
    for (let i = 1; i <= 5; i++) a.observe(T0 + i * 4000, i * 4);
    a.observe(T0 + 6 * 4000 + 60_000, 6 * 4); // one wild sample (a blocked event loop)
    expect(a.offsetMs).toBe(T0);
    for (let i = 7; i <= 9; i++) a.observe(T0 + i * 4000 + 3600_000, i * 4); // the box clock was set an hour ahead
    expect(a.offsetMs).toBe(T0 + 3600_000);
  });
});

describe('segment list', () => {
  it('returns only completed lines, as ffmpeg appends them', () => {
    const file = path.join(tempDir(), 'run.csv');
    const tail = new SegmentListTail(file);
    expect(tail.read()).toEqual([]);
    writeFileSync(file, '01ABC_000000.ts,0.000000,2.900000\n01ABC_000001.ts,2.9000');
    expect(tail.read()).toEqual([{ file: '01ABC_000000.ts', startS: 0, endS: 2.9 }]);
    appendFileSync(file, '00,4.900000\n');
    expect(tail.read()).toEqual([{ file: '01ABC_000001.ts', startS: 2.9, endS: 4.9 }]);
    expect(tail.read()).toEqual([]);
  });
});

describe('ffmpeg failures in plain words', () => {
  // stderr as ffmpeg 5.1 prints it (captured from real runs against the test camera and a garbage server)
  const samples: [string, string, RegExp][] = [
    ['[tcp @ 0x5] Connection to tcp://127.0.0.1:1?timeout=3000000 failed: Connection refused\nrtsp://127.0.0.1:1/stream: Connection refused', 'refused', /refused the connection/],
    ['[rtsp @ 0x5] method DESCRIBE failed: 401 Unauthorized\nrtsp://alice:wrong@127.0.0.1:38483/stream: Server returned 401 Unauthorized (authorization failed)', 'unauthorized', /username or password \(RTSP 401\)/],
    ['[rtsp @ 0x5] method DESCRIBE failed: 404 Not Found\nrtsp://127.0.0.1:38483/nope: Server returned 404 Not Found', 'not_found', /no stream at this path/],
    ['[rtsp @ 0x5] CSeq 1 expected, 0 received.\nrtsp://127.0.0.1:45123/stream: Invalid data found when processing input', 'not_rtsp', /not a working RTSP camera stream/],
    ['rtsp://127.0.0.1:35929/stream: Connection timed out', 'timeout', /did not answer within 7 s/],
    ['[rtsp @ 0x5] method PLAY failed: 454 Session Not Found\nrtsp://127.0.0.1:45373/stream: Server returned 4XX Client Error, but not one of 40{0,1,3,4}', 'no_video', /no video track/],
  ];
  it.each(samples)('%#: %s', (stderr, code, message) => {
    const p = explainFfmpegFailure(stderr, 7, ['wrong']);
    expect(p.code).toBe(code);
    expect(p.message).toMatch(message);
    expect(p.hint.length).toBeGreaterThan(10);
    expect(JSON.stringify(p)).not.toContain('wrong');
  });

  it('scrubs credentials from text it passes through', () => {
    const p = explainFfmpegFailure('rtsp://bob:hunter22@10.0.0.5/x: something new went wrong (hunter22)', 5, ['hunter22']);
    expect(p.code).toBe('unknown');
    expect(p.message).not.toContain('hunter22');
    expect(scrubSecrets('pass p%40ss and p@ss', ['p@ss', 'p%40ss'])).toBe('pass *** and ***');
  });
});

describe('why a run ended', () => {
  const settings = { rtspTimeoutS: 10, stallTimeoutS: 30, cpuPercent: 50 } as RecorderSettings;
  const exit = { code: 0, signal: null };
  it('tells a stall, a camera that hung up, ffmpeg\'s own words, a segment stall and a CPU runaway apart', () => {
    expect(explainRunEnd({ exit, cause: 'no_frames', stderr: '', frames: 300 }, settings, []).message).toBe('the camera stopped sending video (nothing for 10 s)');
    expect(explainRunEnd({ exit, cause: 'no_frames', stderr: '', frames: 0 }, settings, []).message).toBe('the camera sent no video within 25 s');
    expect(explainRunEnd({ exit, cause: 'exited', stderr: '', frames: 300 }, settings, []).code).toBe('closed');
    expect(explainRunEnd({ exit, cause: 'exited', stderr: 'x: Server returned 401 Unauthorized (authorization failed)', frames: 0 }, settings, []).code).toBe('unauthorized');
    expect(explainRunEnd({ exit, cause: 'no_segments', stderr: '', frames: 900 }, settings, []).message).toMatch(/no segment closed for 30 s/);
    expect(explainRunEnd({ exit, cause: 'cpu', stderr: '', frames: 900 }, settings, []).message).toMatch(/more than 50 % of a core/);
    expect(explainRunEnd({ exit, cause: 'exited', stderr: 'rtsp://u:s3cret@10.0.0.5/x: weird new failure s3cret', frames: 0 }, settings, ['s3cret']).message).not.toContain('s3cret');
  });
});

describe('ffmpeg recording arguments', () => {
  it('forces RTSP with a protocol whitelist and timeout, copies video into flushed TS segments with a live CSV list', () => {
    const target = {
      camera: { id: 'till1', transport: 'tcp' },
      resolved: { scheme: 'rtsp' },
      secrets: ['p'],
    } as unknown as Parameters<typeof recordArgs>[0];
    const input = { url: 'rtsp://127.0.0.1:40000/x', close: async () => undefined };
    const args = recordArgs(target, input, { dir: '/buf/till1', runId: '01HZZZZZZZZZZZZZZZZZZZZZZZ' }, { segmentSeconds: 4, timeoutS: 10 });
    const after = (flag: string): string | undefined => args[args.indexOf(flag) + 1];
    expect(after('-protocol_whitelist')).toBe('tcp,udp,rtp');
    expect(after('-timeout')).toBe('10000000');
    expect(after('-f')).toBe('rtsp');
    expect(args.indexOf('-f')).toBeLessThan(args.indexOf('-i'));
    expect(after('-c')).toBe('copy');
    // a camera clock that jumps becomes a steady output clock; a step of 10 s (the stall timeout) or more is a jump
    expect(after('-bsf:v')).toBe(steadyClock(10));
    expect(steadyClock(10)).toMatch(/^setts=dts=.*lt\(DTS-PREV_INDTS\\,10\/TB\).*:pts=/);
    expect(after('-segment_time')).toBe('4');
    expect(after('-segment_format_options')).toBe('flush_packets=1');
    expect(after('-muxdelay')).toBe('0');
    expect(after('-muxpreload')).toBe('0');
    expect(after('-segment_list')).toBe('/buf/till1/01HZZZZZZZZZZZZZZZZZZZZZZZ.csv');
    expect(after('-segment_list_type')).toBe('csv');
    expect(args[args.length - 1]).toBe('/buf/till1/01HZZZZZZZZZZZZZZZZZZZZZZZ_%06d.ts');
  });
});

describe('times on the command line', () => {
  const now = Date.UTC(2026, 2, 1, 12, 0, 0);
  it('reads ISO 8601 with a zone and now±N', () => {
    expect(parseTimeArg('2026-03-01T11:00:00Z', now, '--from')).toBe(now - 3600_000);
    expect(parseTimeArg('2026-03-01T13:00:00+01:00', now, '--from')).toBe(now);
    expect(parseTimeArg('now', now, '--to')).toBe(now);
    expect(parseTimeArg('now-10m', now, '--from')).toBe(now - 600_000);
    expect(parseTimeArg('now+30s', now, '--to')).toBe(now + 30_000);
  });
  it('refuses times without a zone and nonsense', () => {
    for (const t of ['2026-03-01T11:00:00', '2026-03-01', 'yesterday', 'now-10x', '11:00']) expect(() => parseTimeArg(t, now, '--from'), t).toThrow(/^--from: (the time .* has no time zone|cannot understand the time)/);
  });
});
