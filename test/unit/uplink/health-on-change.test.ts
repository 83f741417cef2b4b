import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventBus } from '../../../daemon/src/kernel/events.js';
import { createLogger } from '../../../daemon/src/log/logger.js';
import { HEALTH_ALARM_WATCH_MS, HEALTH_CHANGE_MIN_GAP_MS, HEALTH_CHANGE_SETTLE_MS, HealthOnChange } from '../../../daemon/src/uplink/health-on-change.js';

type Alarm = { kind: string; subject: string };

/**
 * The uplink's health document on change, on fake timers: a fake link (a publish that records when it
 * was called and says whether the link was up), the real event bus, alarms set by the test.
 */
function harness(options: { linkUp?: boolean; publishMs?: number } = {}) {
  const bus = new EventBus();
  const link = { up: options.linkUp ?? true, sentAt: [] as number[], inFlight: 0, maxInFlight: 0 };
  let active: Alarm[] = [];
  let alarmsFail = false;
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    level: 'debug',
    pretty: false,
    destination: new Writable({
      write(chunk: Buffer, _e, cb) {
        for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    }),
  });
  const onChange = new HealthOnChange({
    bus,
    log,
    alarms: () => {
      if (alarmsFail) throw new Error('database is locked');
      return active;
    },
    now: () => Date.now(),
    publish: async () => {
      link.inFlight++;
      link.maxInFlight = Math.max(link.maxInFlight, link.inFlight);
      // what the uplink does first when it builds a document (any cause)
      onChange.sent();
      if (options.publishMs) await new Promise((r) => setTimeout(r, options.publishMs));
      link.inFlight--;
      if (!link.up) return false;
      link.sentAt.push(Date.now());
      return true;
    },
  });
  const t0 = Date.now();
  return {
    bus,
    link,
    lines,
    onChange,
    /** Seconds since the start at which documents went out. */
    sent: () => link.sentAt.map((t) => (t - t0) / 1000),
    setAlarms: (a: Alarm[]) => void (active = a),
    failAlarms: (f: boolean) => void (alarmsFail = f),
    camera: (cameraId: string, state: 'recording' | 'reconnecting' | 'failed') => bus.emit('camera.state', { cameraId, state, reason: state === 'recording' ? null : 'connection refused' }),
  };
}

describe('the health document on change (debounced, bounded)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: Date.UTC(2026, 11, 7, 9) });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a camera changing state sends one document after the settle time; a burst is one document', async () => {
    const { onChange, camera, sent, lines } = harness();
    onChange.start();
    camera('till1', 'reconnecting');
    await vi.advanceTimersByTimeAsync(HEALTH_CHANGE_SETTLE_MS - 10);
    expect(sent()).toEqual([]);
    camera('till2', 'reconnecting');
    camera('till1', 'failed');
    await vi.advanceTimersByTimeAsync(10);
    expect(sent()).toEqual([HEALTH_CHANGE_SETTLE_MS / 1000]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sent()).toHaveLength(1);
    const line = lines.find((l) => l.msg === 'health changed: health document sent');
    expect(line).toMatchObject({ level: 20, reasons: ['camera till1 reconnecting', 'camera till2 reconnecting', 'camera till1 failed'], started: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    onChange.stop();
  });

  it('a camera flapping for a minute: at most one document per HEALTH_CHANGE_MIN_GAP_MS, and the last state goes out', async () => {
    const { onChange, camera, sent } = harness();
    onChange.start();
    for (let i = 0; i < 600; i++) {
      camera('till1', i % 2 ? 'recording' : 'reconnecting');
      await vi.advanceTimersByTimeAsync(100);
    }
    const times = sent();
    expect(times.length).toBeGreaterThanOrEqual(10);
    expect(times.length).toBeLessThanOrEqual(60_000 / HEALTH_CHANGE_MIN_GAP_MS + 1);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(HEALTH_CHANGE_MIN_GAP_MS / 1000);
    // the flapping stopped: one more document at most, then quiet
    await vi.advanceTimersByTimeAsync(HEALTH_CHANGE_MIN_GAP_MS);
    const after = sent().length;
    expect(after - times.length).toBeLessThanOrEqual(1);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sent()).toHaveLength(after);
    onChange.stop();
  });

  it('an alarm raised or cleared sends the document within a watch and a settle; the alarms active at the start do not', async () => {
    const { onChange, setAlarms, sent, lines } = harness();
    setAlarms([{ kind: 'clock.unsynced', subject: 'clock' }]);
    onChange.start();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(sent()).toEqual([]); // the same alarms: nothing to say

    setAlarms([{ kind: 'clock.unsynced', subject: 'clock' }, { kind: 'camera.down', subject: 'till2' }]);
    const raisedAt = 30;
    await vi.advanceTimersByTimeAsync(HEALTH_ALARM_WATCH_MS + HEALTH_CHANGE_SETTLE_MS);
    expect(sent()).toHaveLength(1);
    expect(sent()[0]! - raisedAt).toBeLessThanOrEqual((HEALTH_ALARM_WATCH_MS + HEALTH_CHANGE_SETTLE_MS) / 1000);
    expect(lines.at(-1)).toMatchObject({ reasons: ['alarm raised: camera.down till2'] });

    setAlarms([{ kind: 'camera.down', subject: 'till2' }]);
    await vi.advanceTimersByTimeAsync(HEALTH_ALARM_WATCH_MS + HEALTH_CHANGE_SETTLE_MS);
    expect(sent()).toHaveLength(2);
    expect(lines.at(-1)).toMatchObject({ reasons: ['alarm cleared: clock.unsynced clock'] });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sent()).toHaveLength(2);
    onChange.stop();
  });

  it('alarms that cannot be read now are looked at again next time, without a document or a crash', async () => {
    const { onChange, setAlarms, failAlarms, sent } = harness();
    onChange.start();
    failAlarms(true);
    await vi.advanceTimersByTimeAsync(3 * HEALTH_ALARM_WATCH_MS);
    expect(sent()).toEqual([]);
    failAlarms(false);
    setAlarms([{ kind: 'uplink.outbox_growing', subject: 'outbox' }]);
    await vi.advanceTimersByTimeAsync(HEALTH_ALARM_WATCH_MS + HEALTH_CHANGE_SETTLE_MS);
    expect(sent()).toHaveLength(1);
    onChange.stop();
  });

  it('a document sent meanwhile for another reason (the interval, a connect) carries the change: none more', async () => {
    const { onChange, camera, sent } = harness();
    onChange.start();
    camera('till1', 'reconnecting');
    onChange.sent(); // the periodic document is being built now
    await vi.advanceTimersByTimeAsync(30_000);
    expect(sent()).toEqual([]);
    onChange.stop();
  });

  it('the link down: the change waits for the connect (its document), no retry loop', async () => {
    const { onChange, camera, link, lines } = harness({ linkUp: false });
    onChange.start();
    camera('till1', 'reconnecting');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(link.sentAt).toEqual([]);
    expect(lines.filter((l) => l.msg === 'health changed while the link is down: the document goes at the connect')).toHaveLength(1);
    onChange.stop();
  });

  it('a slow link: one document at a time, and what changed while it was sent goes next', async () => {
    const { onChange, camera, link, sent } = harness({ publishMs: 12_000 });
    onChange.start();
    camera('till1', 'reconnecting');
    await vi.advanceTimersByTimeAsync(HEALTH_CHANGE_SETTLE_MS + 1000);
    camera('till1', 'recording'); // while the first is on its way
    await vi.advanceTimersByTimeAsync(60_000);
    expect(link.maxInFlight).toBe(1);
    expect(sent()).toHaveLength(2);
    expect(sent()[1]! - sent()[0]!).toBeGreaterThanOrEqual(HEALTH_CHANGE_MIN_GAP_MS / 1000);
    onChange.stop();
  });

  it('stop: no listener, no timer left, and later events send nothing', async () => {
    const { onChange, bus, camera, sent } = harness();
    onChange.start();
    expect(bus.listenerCount('camera.state')).toBe(1);
    camera('till1', 'reconnecting');
    onChange.stop();
    expect(bus.listenerCount('camera.state')).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    onChange.changed('late');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sent()).toEqual([]);
  });
});
