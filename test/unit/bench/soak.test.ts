import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { splitArgs } from '../../../scripts/bench/_args.mjs';
import { auditRates } from '../../../scripts/bench/_audit-rates.mjs';
import { slope } from '../../../scripts/bench/_measure.mjs';
import { SegmentLedger } from '../../../scripts/bench/_segment-ledger.mjs';
import { soakPlan } from '../../../scripts/bench/_soak-plan.mjs';

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
type CameraReport = ReturnType<SegmentLedger['report']>[number];
const seg = (id: number, cameraId: string, startUtcMs: number, endUtcMs: number) => ({ id, cameraId, startUtcMs, endUtcMs });

describe('soak plan', () => {
  it('runs two hours with a 10-minute buffer by default, every event inside the run', () => {
    const p = soakPlan({}, {});
    expect(p.totalS).toBe(7200);
    expect(p.bufferMinutes).toBe(10);
    expect(p.incidents).toHaveLength(20);
    const times = p.incidents.map((i: { atS: number }) => i.atS);
    expect(Math.min(...times)).toBeGreaterThanOrEqual(p.warmupS);
    expect(Math.max(...times)).toBeLessThanOrEqual(p.totalS - p.tailS);
    expect(p.outage.atS + p.outage.downS).toBeLessThan(p.brokerRestart.atS);
    expect(p.brokerRestart.atS + p.brokerRestart.downS).toBeLessThan(p.totalS - p.tailS);
    expect(p.boundS).toBe(p.totalS + 300);
  });

  it('keeps the shape in a short run: same events at the same fractions, buffer scaled, rate limits raised', () => {
    const full = soakPlan({}, {});
    const short = soakPlan({ minutes: '12' }, {});
    expect(short.totalS).toBe(720);
    expect(short.bufferMinutes).toBe(1);
    expect(short.incidents).toHaveLength(full.incidents.length);
    expect(short.outage.atS / short.totalS).toBeCloseTo(full.outage.atS / full.totalS, 2);
    expect(short.brokerRestart.atS / short.totalS).toBeCloseTo(full.brokerRestart.atS / full.totalS, 2);
    // 20 incidents in under 8 minutes: far more than the daemon's default 10 an hour per person
    expect(short.incidentsPerHourLimit).toBeGreaterThanOrEqual(Math.ceil((20 * 3600) / (short.totalS - short.warmupS - short.tailS)));
  });

  it('spreads the incidents over every camera', () => {
    const cams = new Set(soakPlan({ minutes: '12' }, {}).incidents.flatMap((i: { cameras: string[] }) => i.cameras));
    expect([...cams].sort()).toEqual(['cam1', 'cam2', 'cam3', 'cam4', 'cam5', 'cam6', 'cam7', 'cam8']);
  });

  it('takes the run length from the environment when no option gives it', () => {
    expect(soakPlan({}, { HINDSIGHT_BENCH_SOAK_MINUTES: '30' }).totalS).toBe(1800);
    expect(soakPlan({ minutes: '20' }, { HINDSIGHT_BENCH_SOAK_MINUTES: '30' }).totalS).toBe(1200);
  });

  it('refuses a run length that is not a number, too short, or a buffer longer than half the run', () => {
    expect(() => soakPlan({ minutes: 'abc' }, {})).toThrow(/--minutes must be a number of minutes, got "abc"; the soak takes --minutes N/);
    expect(() => soakPlan({ minutes: '' }, {})).toThrow(/--minutes must be a number/);
    expect(() => soakPlan({ minutes: '3' }, {})).toThrow(/--minutes must be between 6 and 1440 minutes, got 3/);
    expect(() => soakPlan({}, { HINDSIGHT_BENCH_SOAK_MINUTES: 'two hours' })).toThrow(/--minutes must be a number/);
    expect(() => soakPlan({ minutes: '12', 'buffer-minutes': '10' }, {})).toThrow(/--buffer-minutes must be between 1 and 6 minutes, got 10/);
  });

  it('refuses an option it does not know, naming the ones it takes', () => {
    expect(() => soakPlan({ minute: '12' }, {})).toThrow(/unknown option --minute; the soak takes --minutes N/);
  });
});

describe('benchmark command line', () => {
  it('splits names from --key value and --key=value options', () => {
    expect(splitArgs(['soak', '--minutes', '12', '--buffer-minutes=2'])).toEqual({ names: ['soak'], options: { minutes: '12', 'buffer-minutes': '2' } });
  });

  it('refuses an option without a value', () => {
    expect(() => splitArgs(['soak', '--minutes'])).toThrow('option --minutes needs a value (e.g. --minutes 12)');
    expect(() => splitArgs(['--minutes', '--buffer-minutes', '2'])).toThrow(/--minutes needs a value/);
  });

  it('the runner exits 2 with the reason on an option without a value, before running anything', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'bench.mjs'), 'soak', '--minutes'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('option --minutes needs a value');
    expect(r.stdout).not.toContain('running');
  });
});

describe('segment ledger', () => {
  const R = 60_000; // buffer length
  const T = 250; // tolerance

  it('finds no loss in contiguous segments and a hole covered by a recorded gap', () => {
    const l = new SegmentLedger(R, T);
    l.observe(20_000, [seg(1, 'a', 0, 4000), seg(2, 'a', 4000, 8000), seg(3, 'a', 8100, 12_000)], []);
    // an outage from 12 s to 30 s, the gap opened at the last segment's end and closed by the next one
    l.observe(40_000, [seg(1, 'a', 0, 4000), seg(2, 'a', 4000, 8000), seg(3, 'a', 8100, 12_000), seg(4, 'a', 30_000, 34_000)], [{ id: 1, cameraId: 'a', startUtcMs: 12_000, endUtcMs: 30_000, reason: 'camera down' }]);
    const [a] = l.report() as [CameraReport];
    expect(a).toMatchObject({ cameraId: 'a', segments: 4, holes: 1, lost: [], lostS: 0 });
    expect(a.recordedS).toBeCloseTo(15.9, 5);
    expect(a.gaps).toEqual([{ fromUtcMs: 12_000, toUtcMs: 30_000, reason: 'camera down' }]);
  });

  it('reports the part of a hole no gap covers, with an open gap running on', () => {
    const l = new SegmentLedger(R, T);
    l.observe(50_000, [seg(1, 'a', 0, 4000), seg(2, 'a', 10_000, 14_000), seg(3, 'b', 0, 4000), seg(4, 'b', 20_000, 24_000)], [
      { id: 1, cameraId: 'a', startUtcMs: 6000, endUtcMs: 10_000, reason: 'x' },
      { id: 2, cameraId: 'b', startUtcMs: 4000, endUtcMs: null, reason: 'still down' },
    ]);
    const [a, b] = l.report() as [CameraReport, CameraReport];
    expect(a.lost).toEqual([{ fromUtcMs: 4000, toUtcMs: 10_000, uncoveredMs: 2000 }]);
    expect(a.lostS).toBe(2);
    expect(b.holes).toBe(1);
    expect(b.lost).toEqual([]);
  });

  it('keeps segments retention deleted, and flags one that left the index before its time', () => {
    const l = new SegmentLedger(R, T);
    l.observe(10_000, [seg(1, 'a', 0, 4000), seg(2, 'a', 4000, 8000)], []);
    // at 66 s segment 1 (ended 4 s) is past the 60 s buffer; segment 2 (ended 8 s) is not
    l.observe(66_000, [seg(3, 'a', 8000, 12_000)], []);
    expect(l.vanished.byRetention).toBe(1);
    expect(l.vanished.early).toEqual([{ ...seg(2, 'a', 4000, 8000), missingAtUtcMs: 66_000 }]);
    expect(l.report()[0]).toMatchObject({ segments: 3, holes: 0, lost: [] });
  });

  it('takes a gap as last seen: one that closed later covers its whole period', () => {
    const l = new SegmentLedger(R, T);
    l.observe(5000, [seg(1, 'a', 0, 4000)], [{ id: 7, cameraId: 'a', startUtcMs: 4000, endUtcMs: null, reason: 'down' }]);
    l.observe(30_000, [seg(1, 'a', 0, 4000), seg(2, 'a', 20_000, 24_000)], [{ id: 7, cameraId: 'a', startUtcMs: 4000, endUtcMs: 20_000, reason: 'down' }]);
    expect(l.report()[0]!.gaps).toEqual([{ fromUtcMs: 4000, toUtcMs: 20_000, reason: 'down' }]);
    expect(l.report()[0]!.lost).toEqual([]);
  });
});

describe('audit rates', () => {
  const HOUR = 3_600_000;
  const row = (action: string, ts: number, ids: string[] = []) => ({ action, ts_utc: ts, object_ids: ids });

  it('counts the rows of the run per action and per day, leaving the setup out', () => {
    const rows = [row('box.enrolled', -1), row('buffer.deleted', 0.1 * HOUR), row('buffer.deleted', 0.9 * HOUR), row('incident.logged', 0.5 * HOUR, ['i1'])];
    const r = auditRates(rows, 0, HOUR, ['i1']);
    expect(r.rows).toBe(3);
    expect(r.rows_per_day).toBe(72);
    expect(r.by_action).toEqual({ 'buffer.deleted': { rows: 2, per_day: 48 }, 'incident.logged': { rows: 1, per_day: 24 } });
    expect(Object.keys(r.by_action)[0]).toBe('buffer.deleted');
  });

  it('splits the rows naming an incident from the background, and the background by half', () => {
    const rows = [row('incident.logged', 10, ['i1']), row('incident.delivered', 20, ['i1']), row('incident.logged', 30, ['i2']), row('buffer.deleted', 0.2 * HOUR), row('buffer.deleted', 0.7 * HOUR), row('buffer.deleted', 0.8 * HOUR)];
    const r = auditRates(rows, 0, HOUR, ['i1', 'i2', 'i3']);
    expect(r.incident_rows).toBe(3);
    expect(r.rows_per_incident).toEqual({ min: 0, median: 1, max: 2 });
    expect(r.background_rows).toBe(3);
    expect(r).toMatchObject({ background_rows_first_half: 1, background_rows_second_half: 2, background_per_hour_first_half: 2, background_per_hour_second_half: 4 });
  });

  it('compares the background halves from the time given, leaving the filling of the buffer out', () => {
    const rows = [row('daemon.started', 0.05 * HOUR), row('buffer.deleted', 0.6 * HOUR), row('buffer.deleted', 0.9 * HOUR)];
    const r = auditRates(rows, 0, HOUR, [], 0.5 * HOUR);
    expect(r.background_rows).toBe(3);
    expect(r).toMatchObject({ background_rows_first_half: 1, background_rows_second_half: 1, background_per_hour_first_half: 4, background_per_hour_second_half: 4 });
  });
});

describe('least-squares slope', () => {
  it('gives the slope of a noisy line and null when there is no line', () => {
    expect(slope([{ x: 0, y: 1 }, { x: 1, y: 3.1 }, { x: 2, y: 4.9 }, { x: 3, y: 7 }])).toBeCloseTo(1.98, 5);
    expect(slope([{ x: 1, y: 1 }])).toBeNull();
    expect(slope([{ x: 1, y: 1 }, { x: 1, y: 2 }])).toBeNull();
  });
});
