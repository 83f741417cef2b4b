import { describe, expect, it } from 'vitest';
import { IntakeGate } from '../../../daemon/src/force/intake-gate.js';
import { RejectionLimiter, suppressedText } from '../../../daemon/src/force/rejection-limiter.js';
import { silentLogger } from '../../../daemon/src/log/logger.js';

const settled = async (p: Promise<void> | undefined): Promise<boolean> => {
  if (!p) return true;
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
};

describe('the intake gate', () => {
  const gate = (capBytes: number): IntakeGate => new IntakeGate({ capBytes, receiveMaximum: 2, log: silentLogger, now: () => Date.now() });

  it('lets messages through up to the cap and holds the connection above it until the bytes are handled', async () => {
    const g = gate(1000);
    g.take(600);
    expect(g.admit()).toBeUndefined();
    g.take(600);
    const wait = g.admit();
    expect(wait).toBeDefined();
    expect(g.paused).toBe(true);
    expect(await settled(wait)).toBe(false);
    g.release(600);
    expect(await settled(wait)).toBe(true);
    expect(g.paused).toBe(false);
    expect(g.stats).toMatchObject({ pauses: 1, peakBytes: 1200 });
  });

  it('holds the next message of a connection made anew while one of the lost connection was held', async () => {
    const g = gate(100);
    g.take(500);
    const lost = g.admit();
    g.take(100);
    const next = g.admit();
    expect(next).toBeDefined();
    expect(await settled(lost)).toBe(true);
    expect(await settled(next)).toBe(false);
    g.release(600);
    expect(await settled(next)).toBe(true);
  });

  it('stays shut while the bytes in flight are still above the cap', async () => {
    const g = gate(1000);
    g.take(3000);
    const wait = g.admit();
    g.release(1000);
    expect(await settled(wait)).toBe(false);
    g.release(1000);
    expect(await settled(wait)).toBe(true);
    expect(g.inFlight).toBe(1000);
  });

  it("opens for at most Receive Maximum more messages when one of the receiver's publishes waits for the broker", async () => {
    const g = gate(100);
    g.take(500);
    const wait = g.admit();
    let ack!: () => void;
    const publishing = g.whilePublishing(() => new Promise<void>((r) => (ack = r)));
    expect(await settled(wait)).toBe(true);
    // the broker's acknowledgement is behind at most Receive Maximum (2) messages it sent before: those go through
    expect(g.admit()).toBeUndefined();
    expect(g.admit()).toBeUndefined();
    // a broker slow to acknowledge gets no more out of the receiver
    const third = g.admit();
    expect(third).toBeDefined();
    ack();
    await publishing;
    expect(await settled(third)).toBe(false);
    g.release(500);
    expect(await settled(third)).toBe(true);
  });
});

describe('the rejection limiter', () => {
  it('records a burst of a box\'s rejections, counts the rest into one summary, and refills with time', () => {
    const l = new RejectionLimiter({ perMinute: 5, summaryMs: 60_000 });
    const t0 = 1_000_000;
    const admitted = Array.from({ length: 1000 }, (_, i) => l.admit('box-a', i % 2 ? 'bad_topic' : 'chunk', t0)).filter(Boolean).length;
    expect(admitted).toBe(5);
    // another box is not held back by the first
    expect(l.admit('box-b', 'chunk', t0)).toBe(true);
    expect(l.due(t0 + 59_999)).toEqual([]);
    const [s, ...more] = l.due(t0 + 60_000);
    expect(more).toEqual([]);
    expect(s).toMatchObject({ source: 'box-a', count: 995, reasons: { chunk: 497, bad_topic: 498 } });
    expect(suppressedText(s!, t0 + 60_000)).toBe('995 more rejections from box box-a suppressed in the last 60 s (bad_topic 498, chunk 497)');
    // each summary is handed out once
    expect(l.due(t0 + 120_000)).toEqual([]);
    // a minute later the bucket is full again
    expect(Array.from({ length: 10 }, () => l.admit('box-a', 'chunk', t0 + 120_000)).filter(Boolean).length).toBe(5);
  });

  it('hands out every summary at shutdown, whatever its age', () => {
    const l = new RejectionLimiter({ perMinute: 1, summaryMs: 60_000 });
    for (let i = 0; i < 3; i++) l.admit('box-a', 'chunk', 5000);
    expect(l.due(5001)).toEqual([]);
    expect(l.due(5001, true)).toMatchObject([{ source: 'box-a', count: 2 }]);
  });
});
