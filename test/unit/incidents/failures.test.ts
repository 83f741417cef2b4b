import { rmSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { NEEDS_PERSON_ALARM } from '../../../daemon/src/incidents/state.js';
import type { IncidentState } from '../../../daemon/src/incidents/model.js';
import { GapsRepo } from '../../../daemon/src/db/repos/gaps.js';
import { CameraStatusRepo } from '../../../daemon/src/db/repos/camera-status.js';
import { HindsightError } from '../../../daemon/src/util/errors.js';
import { IncidentHarness, makeSegmentFiles, ScriptedAnalysis } from '../../helpers/incident-harness.js';
import { tempDir } from '../../helpers/paths.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const MAX_ATTEMPTS = 5;

/**
 * The guard for the whole class of "a failed incident spins": every fault the worker can meet, at the
 * state where it meets it, run over a simulated day with a manual clock. The real repository, state
 * machine, audit log, alarms, worker and extraction (real ffmpeg) run; only the analysing step is
 * scripted, throwing the errors the face pipeline and the sealer throw (same codes).
 */
describe('failed incidents wait: for a stated time, an event or a person, never in a loop', () => {
  let footage: string[];

  beforeAll(async () => {
    footage = await makeSegmentFiles(path.join(tempDir(), 'footage'), 40);
  });

  /** A box with camera c1 that recorded for 10 minutes, until 5 minutes ago. */
  function box(analysis: ScriptedAnalysis | ((h: IncidentHarness) => ScriptedAnalysis) | undefined, incidents: Record<string, unknown> = {}): IncidentHarness {
    const h = new IncidentHarness(tempDir(), { max_attempts: MAX_ATTEMPTS, retry_after_s: 30, ...incidents });
    h.addCamera('c1');
    if (analysis) h.links.steps.analysing = typeof analysis === 'function' ? analysis(h) : analysis;
    return h;
  }

  /** Index 40 s of real footage covering [fromMs, fromMs + 40 s). */
  function record(h: IncidentHarness, fromMs: number): void {
    h.indexFootage('c1', footage, fromMs);
  }

  function expectQuietFor(h: IncidentHarness, id: string, sinceMs: number): void {
    expect(h.auditRows(id, sinceMs)).toEqual([]);
  }

  it('a camera that is down: the incident fails once, says why, waits for a person with an alarm, and stays quiet for a day', async () => {
    const h = box(undefined);
    record(h, h.clock.now() - 15 * 60_000); // footage from long ago
    new GapsRepo(h.db).open('c1', h.clock.now() - 5 * 60_000, 'the camera refused the connection (nothing listens on 127.0.0.1:1)');
    new CameraStatusRepo(h.db).put({ cameraId: 'c1', state: 'failed', reason: 'the camera refused the connection', sinceUtcMs: h.clock.now(), fps: null, bitrateKbps: null, lastSegmentEndUtcMs: null, spawns: 3, bootId: 'b', updatedUtcMs: h.clock.now() });
    const id = h.logIncident(['c1']).id;

    await h.runFor(DAY);
    const i = h.get(id);
    expect(i.state).toBe('failed');
    expect(i.failedState).toBe('extracting');
    expect(i.wait).toEqual({ kind: 'person' });
    expect(i.failureCode).toBe('no_footage');
    expect(i.failure).toMatch(/camera c1 recorded nothing in that window: it was failing: the camera refused the connection/);
    expect(i.attempts).toBeGreaterThanOrEqual(1);
    expect(i.attempts).toBeLessThanOrEqual(MAX_ATTEMPTS);
    expect(h.auditRows(id).length).toBeLessThanOrEqual(2 * i.attempts + 3);
    expectQuietFor(h, id, h.clock.now() - 20 * HOUR);
    const warn = h.warnings(id);
    expect(warn).toHaveLength(1);
    expect(warn[0]).toMatchObject({ step: 'extracting', code: 'no_footage', waits_for: 'a person' });
    expect(String(warn[0]!.reason)).toMatch(/connection/);
    const alarm = h.alarms.active(NEEDS_PERSON_ALARM).find((a) => a.subject === id);
    expect(alarm?.message).toMatch(/hindsight incident retry/);

    // a person cancels it: the alarm clears
    h.parts.desk.cancel(id, { type: 'cli', id: 'manager' }, 'camera was unplugged all day');
    expect(h.alarms.active(NEEDS_PERSON_ALARM).find((a) => a.subject === id)).toBeUndefined();
  });

  it('ffmpeg fails on every cut: retries with doubling delays, then waits for a person', async () => {
    const h = box(undefined);
    record(h, h.clock.now() - 30_000);
    // the footage files vanish from the disk (the index still lists them): every cut fails in ffmpeg
    rmSync(path.join(h.ctx.paths.bufferDir, 'c1'), { recursive: true, force: true });
    const id = h.logIncident(['c1'], { at: '20 seconds ago', before_s: 5, after_s: 5 }).id;

    await h.runFor(DAY, 5_000);
    const i = h.get(id);
    expect(i.state).toBe('failed');
    expect(i.wait).toEqual({ kind: 'person' });
    expect(i.attempts).toBe(MAX_ATTEMPTS);
    expect(i.failureCode).toBe('extract_failed');
    const failures = h.auditRows(id).filter((r) => r.action === 'incident.failed');
    expect(failures).toHaveLength(MAX_ATTEMPTS);
    // delays 30, 60, 120, 240 s between failures (each seen at the first 5 s pass after it was due)
    const gaps = failures.slice(1).map((f, n) => f.ts - failures[n]!.ts);
    gaps.forEach((g, n) => expect(g).toBeGreaterThanOrEqual(30_000 * 2 ** n));
    gaps.forEach((g, n) => expect(g).toBeLessThanOrEqual(30_000 * 2 ** n + 10_000));
    expect(h.auditRows(id).length).toBeLessThanOrEqual(2 * i.attempts + 3);
    expectQuietFor(h, id, h.clock.now() - 20 * HOUR);
    expect(h.warnings(id)).toHaveLength(MAX_ATTEMPTS);
    expect(h.alarms.active(NEEDS_PERSON_ALARM).map((a) => a.subject)).toContain(id);
  });

  it('the analysis fails every time: bounded attempts, then a person; a retry by a person gets one more attempt', async () => {
    const analysis = (h: IncidentHarness): ScriptedAnalysis => new ScriptedAnalysis(h, () => new Error('onnxruntime: out of memory'));
    const h = box(analysis);
    record(h, h.clock.now() - 30_000);
    const id = h.logIncident(['c1'], { at: '20 seconds ago', before_s: 5, after_s: 5 }).id;
    await h.runFor(HOUR, 5_000);
    const beforeFailure = h.auditRows(id).findIndex((r) => r.action === 'incident.failed');
    let i = h.get(id);
    expect(i).toMatchObject({ state: 'failed', failedState: 'analysing', attempts: MAX_ATTEMPTS, wait: { kind: 'person' } });
    expect(h.auditRows(id).length).toBeLessThanOrEqual(2 * i.attempts + beforeFailure);
    await h.runFor(DAY - HOUR, 60_000);
    expectQuietFor(h, id, h.clock.now() - 20 * HOUR);

    h.parts.desk.retry(id, { type: 'cli', id: 'manager' });
    expect(h.alarms.active(NEEDS_PERSON_ALARM).map((a) => a.subject)).not.toContain(id);
    await h.runFor(60_000);
    i = h.get(id);
    expect(i).toMatchObject({ state: 'failed', attempts: MAX_ATTEMPTS + 1, wait: { kind: 'person' } });
    expect(h.alarms.active(NEEDS_PERSON_ALARM).map((a) => a.subject)).toContain(id);
  });

  it('evidence the force refused for good (its `rejected` receipt): the incident fails with the force\'s reason and waits for a person, quietly; a retry seals it anew from the analysis', async () => {
    const h = box(undefined);
    h.links.steps.analysing = new ScriptedAnalysis(h, () => undefined);
    h.links.delivery = { isSending: () => true };
    record(h, h.clock.now() - 30_000);
    const id = h.logIncident(['c1'], { at: '20 seconds ago', before_s: 5, after_s: 5 }).id;
    await h.runFor(60_000, 5_000);
    expect(h.get(id).state).toBe('sending');
    h.parts.rejected(id, 'env-1', 'revoked_key: sealed to a revoked key');
    expect(h.get(id)).toMatchObject({ state: 'failed', failedState: 'sending', failureCode: 'force_rejected', wait: { kind: 'person' } });
    expect(h.get(id).failure).toBe('the force refused the evidence: revoked_key: sealed to a revoked key');
    expect(h.alarms.active(NEEDS_PERSON_ALARM).map((a) => a.subject)).toContain(id);
    // a second rejection (a duplicate receipt) or a delivery of another envelope changes nothing
    h.parts.rejected(id, 'env-1', 'again');
    h.parts.delivered(id, 'env-1');
    expect(h.get(id).failure).toBe('the force refused the evidence: revoked_key: sealed to a revoked key');
    await h.runFor(DAY, 60_000);
    expectQuietFor(h, id, h.clock.now() - 23 * HOUR);

    h.parts.desk.retry(id, { type: 'cli', id: 'manager' });
    expect(h.get(id).state).toBe('analysing');
    await h.runFor(10_000);
    expect(['sealed', 'sending']).toContain(h.get(id).state);
  });

  it('not enrolled: waits for enrollment without using attempts, and resumes when it comes', async () => {
    let enrolled = false;
    const h = box((hh) => new ScriptedAnalysis(hh, () => (enrolled ? undefined : new HindsightError('cannot seal the evidence: this box is not enrolled with the force', { code: 'not_enrolled' }))));
    h.links.readiness = { ready: (e) => e === 'enrolled' && enrolled };
    record(h, h.clock.now() - 30_000);
    const id = h.logIncident(['c1'], { at: '20 seconds ago', before_s: 5, after_s: 5 }).id;
    await h.runFor(DAY, 30_000);
    let i = h.get(id);
    expect(i).toMatchObject({ state: 'failed', failedState: 'analysing', attempts: 0, wait: { kind: 'event', event: 'enrolled' }, failureCode: 'not_enrolled' });
    expect(h.auditRows(id).filter((r) => r.action === 'incident.failed')).toHaveLength(1);
    expectQuietFor(h, id, h.clock.now() - 23 * HOUR);
    expect(h.alarms.active(NEEDS_PERSON_ALARM)).toEqual([]);

    enrolled = true;
    h.worker.notify('enrolled');
    await h.runFor(10_000);
    i = h.get(id);
    expect(i.state).toBe('sealed');
    expect(i.attempts).toBe(0);
  });

  it('outbox full: waits for room without using attempts, and resumes when the force confirms a delivery', async () => {
    let full = true;
    const h = box((hh) => new ScriptedAnalysis(hh, () => (full ? new HindsightError('the outbox holds too much undelivered evidence', { code: 'outbox_full' }) : undefined)));
    h.links.readiness = { ready: (e) => e === 'outbox_space' && !full };
    await h.worker.start(); // listens to the bus: a delivery is the event
    record(h, h.clock.now() - 30_000);
    const id = h.logIncident(['c1'], { at: '20 seconds ago', before_s: 5, after_s: 5 }).id;
    await h.runFor(DAY, 30_000);
    expect(h.get(id)).toMatchObject({ state: 'failed', attempts: 0, wait: { kind: 'event', event: 'outbox_space' } });
    expectQuietFor(h, id, h.clock.now() - 23 * HOUR);
    // a delivery that did not free enough room: checked, not resumed
    h.ctx.bus.emit('envelope.delivered', { envelopeId: 'e0', incidentId: 'other' });
    await h.runFor(10_000);
    expect(h.get(id).state).toBe('failed');
    full = false;
    h.ctx.bus.emit('envelope.delivered', { envelopeId: 'e1', incidentId: 'other' });
    await h.runFor(10_000);
    expect(h.get(id).state).toBe('sealed');
    await h.worker.stop();
  });

  it('a step that takes the daemon down every time stops being restarted after the attempts, and waits for a person', async () => {
    let h = box((hh) => new ScriptedAnalysis(hh, () => 'hang'));
    record(h, h.clock.now() - 30_000);
    const id = h.logIncident(['c1'], { at: '20 seconds ago', before_s: 5, after_s: 5 }).id;
    for (let life = 0; life < 10; life++) {
      // each life: the analysis starts and never ends; then the daemon is killed (never stopped)
      for (let n = 0; n < 20 && h.get(id).state !== 'analysing' && h.get(id).state !== 'failed'; n++) {
        h.clock.advance(5_000);
        await h.worker.tick();
        await h.worker.idle();
      }
      h.clock.advance(5_000);
      await h.worker.tick();
      const next = h.restart({ max_attempts: MAX_ATTEMPTS, retry_after_s: 30 });
      next.links.steps.analysing = new ScriptedAnalysis(next, () => 'hang');
      h = next;
    }
    await h.runFor(DAY, 60_000);
    const i = h.get(id);
    expect(i).toMatchObject({ state: 'failed', failedState: 'analysing', failureCode: 'step_crashed', wait: { kind: 'person' } });
    expect(i.failure).toMatch(/started \d+ times without finishing/);
    expect(h.auditRows(id).filter((r) => r.action === 'incident.failed')).toHaveLength(1);
  });

  const STOPS: IncidentState[] = ['logged', 'waiting', 'extracting', 'analysing', 'sealed'];
  it.each(STOPS)('a crash right after reaching %s resumes where it stopped, with no attempt used', async (stop) => {
    // first life: only the parts that reach `stop`, then the daemon dies without stopping
    const first = new IncidentHarness(tempDir(), { max_attempts: MAX_ATTEMPTS });
    first.addCamera('c1');
    record(first, first.clock.now() - (stop === 'waiting' ? 40_000 : 30_000)); // footage up to now (waiting) or beyond
    const id = first.logIncident(['c1'], stop === 'logged' ? {} : stop === 'waiting' ? { at: 'now', before_s: 20, after_s: 5 } : { at: '20 seconds ago', before_s: 5, after_s: 5 }).id;
    if (stop === 'extracting') delete first.links.steps.extracting;
    if (stop === 'sealed') first.links.steps.analysing = new ScriptedAnalysis(first, () => undefined);
    if (stop !== 'logged') {
      for (let n = 0; n < 10 && first.get(id).state !== stop; n++) {
        first.clock.advance(stop === 'waiting' ? 0 : 5_000);
        await first.worker.tick();
        await first.worker.idle();
      }
    }
    expect(first.get(id).state).toBe(stop);

    const second = first.restart({ max_attempts: MAX_ATTEMPTS });
    second.links.steps.analysing = new ScriptedAnalysis(second, () => undefined);
    second.links.delivery = { isSending: () => true };
    await second.runFor(2 * 60_000, 5_000);
    const i = second.get(id);
    expect(i.state).toBe('sending');
    expect(i.attempts).toBe(0);
    second.parts.delivered(id, 'env-1');
    expect(second.get(id).state).toBe('delivered');
    const actions = second.auditRows(id).map((r) => r.action);
    expect(actions.filter((a) => a === 'incident.failed')).toEqual([]);
    // one row per transition: nothing was done twice
    for (const a of ['incident.logged', 'incident.extracting', 'incident.analysing', 'incident.sealed', 'incident.sending', 'incident.delivered']) {
      expect(actions.filter((x) => x === a), a).toHaveLength(1);
    }
    await second.runFor(DAY - 2 * 60_000, 60_000);
    expectQuietFor(second, id, second.clock.now() - 20 * HOUR);
  });
});

