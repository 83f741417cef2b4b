import { describe, expect, it } from 'vitest';
import { steadyFps, streamReport } from '../../../daemon/src/cameras/probe.js';

/** Packets as ffprobe lists them: `n` frames at `fps` from `t0`, a keyframe every `gop`. */
const frames = (n: number, fps: number, t0 = 0, gop = 15) => Array.from({ length: n }, (_, i) => ({ stream_index: 0, pts_time: (t0 + i / fps).toFixed(6), size: '1000', flags: i % gop === 0 ? 'K__' : '___' }));
const h264 = { index: 0, codec_type: 'video', codec_name: 'h264', profile: 'Main', width: 1920, height: 1080 };

describe('camera test: what the probe window says', () => {
  it('reads the steady frame rate, not the start-up burst or a timestamp jump', () => {
    // 15 buffered frames sent at once at the start (timestamps 10 ms apart), then 15 fps for 5 s
    const burst = Array.from({ length: 15 }, (_, i) => i * 0.01);
    const steady = Array.from({ length: 75 }, (_, i) => 0.2 + i / 15);
    expect((burst.length + steady.length - 1) / (steady.at(-1)! - burst[0]!)).toBeGreaterThan(17); // what a plain count says
    expect(steadyFps([...burst, ...steady])).toBeCloseTo(15, 1);
    // the camera's clock jumps back 100 s halfway
    const jump = [...Array.from({ length: 40 }, (_, i) => 200 + i / 15), ...Array.from({ length: 40 }, (_, i) => 100 + i / 15)];
    expect(steadyFps(jump)).toBeCloseTo(15, 1);
    // B-frames: presentation times out of order
    const reordered = Array.from({ length: 60 }, (_, i) => (i % 3 === 1 ? i + 1 : i % 3 === 2 ? i - 1 : i) / 25);
    expect(steadyFps(reordered)).toBeCloseTo(25, 1);
    expect(steadyFps([])).toBeNull();
    // a camera that skipped one frame (its encoder was busy) is still a 15 fps camera
    const skipped = Array.from({ length: 76 }, (_, i) => i / 15).filter((_, i) => i !== 40);
    expect(steadyFps(skipped)?.toFixed(1)).toBe('15.0');
    // a busy camera's timestamps jitter: every few frames one comes 0.6 of an interval late and the next
    // early, which is still 15 fps (counting the late step as two intervals read 15.6)
    const jittered = Array.from({ length: 61 }, (_, i) => (i + (i % 4 === 1 ? 0.6 : 0)) / 15);
    expect(Math.abs(steadyFps(jittered)! - 15)).toBeLessThan(0.05);
  });

  it('says an audio track is there and nothing stops recording', () => {
    // over RTSP the first frame often comes before the stream's clock is known: no time, and no problem
    const [first, ...rest] = frames(75, 15);
    const r = streamReport(h264, [{ stream_index: 0, size: first!.size, flags: first!.flags }, ...rest], { seconds: 5, audio: 'aac' });
    expect(r).toMatchObject({ codec: 'h264', audio: 'aac', problems: [], keyframeIntervalS: 1 });
    expect(r.fps).toBeCloseTo(15, 1);
  });

  it('names in plain words what would stop recording', () => {
    const noStamps = frames(75, 15).map((p, i) => (i % 3 === 2 ? { stream_index: 0, size: p.size, flags: p.flags } : p));
    expect(streamReport(h264, noStamps, { seconds: 5, audio: null }).problems).toEqual([expect.stringMatching(/^25 of 75 video frames carry no timestamp .*turn B-frames off/)]);
    expect(streamReport({ ...h264, codec_name: 'mjpeg' }, frames(75, 15), { seconds: 5, audio: null }).problems).toEqual([expect.stringMatching(/the video codec is mjpeg: it cannot be recorded without re-encoding/)]);
    expect(streamReport(h264, frames(75, 15, 0, 1000).slice(1), { seconds: 5, audio: null }).problems).toEqual([expect.stringMatching(/no keyframe arrived in 5 s/)]);
    expect(streamReport(h264, [], { seconds: 5, audio: null }).problems).toEqual([expect.stringMatching(/no video frame arrived in 5 s/)]);
  });
});
