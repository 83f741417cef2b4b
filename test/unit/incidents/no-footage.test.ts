import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { IncidentRefused } from '../../../daemon/src/incidents/desk.js';
import { CameraStatusRepo } from '../../../daemon/src/db/repos/camera-status.js';
import { SegmentsRepo } from '../../../daemon/src/db/repos/segments.js';
import { IncidentHarness, makeSegmentFiles, ScriptedAnalysis } from '../../helpers/incident-harness.js';
import { tempDir } from '../../helpers/paths.js';

describe('a camera that has never recorded a frame', () => {
  let footage: string[];

  beforeAll(async () => {
    footage = await makeSegmentFiles(path.join(tempDir(), 'footage'), 20);
  });

  function box(): IncidentHarness {
    const h = new IncidentHarness(tempDir(), { max_attempts: 2, retry_after_s: 30 });
    h.addCamera('c1');
    h.addCamera('dead');
    h.links.steps.analysing = new ScriptedAnalysis(h, () => undefined);
    return h;
  }

  function failing(h: IncidentHarness, cameraId: string): void {
    new CameraStatusRepo(h.db).put({ cameraId, state: 'reconnecting', reason: 'the camera refused the connection', sinceUtcMs: h.clock.now(), fps: null, bitrateKbps: null, lastSegmentEndUtcMs: null, spawns: 4, bootId: 'b', updatedUtcMs: h.clock.now() });
  }

  /** Zero-byte segments, as a run that dies before its first frame leaves them, indexed over [fromMs, +8 s). */
  function emptySegments(h: IncidentHarness, cameraId: string, fromMs: number): void {
    const dir = path.join(h.ctx.paths.bufferDir, cameraId);
    mkdirSync(dir, { recursive: true });
    for (let n = 0; n < 4; n++) {
      const rel = path.join(cameraId, `r9_${n}.ts`);
      writeFileSync(path.join(h.ctx.paths.bufferDir, rel), '');
      new SegmentsRepo(h.db).insert({ cameraId, path: rel, startUtcMs: fromMs + n * 2000, endUtcMs: fromMs + (n + 1) * 2000, bytes: 0, runId: 'r9', recovered: false });
    }
  }

  function refusal(h: IncidentHarness, cameras: string[], at = '10 seconds ago'): IncidentRefused {
    try {
      h.logIncident(cameras, { at, before_s: 3, after_s: 3 });
    } catch (err) {
      expect(err).toBeInstanceOf(IncidentRefused);
      return err as IncidentRefused;
    }
    throw new Error('the incident was accepted');
  }

  it('an incident on it alone is refused, saying so and why', () => {
    const h = box();
    failing(h, 'dead');
    for (const at of ['10 seconds ago', 'now']) {
      const err = refusal(h, ['dead'], at);
      expect(err.code).toBe('never_recorded');
      expect(err.message).toMatch(/camera dead has never recorded a frame \(it is reconnecting: the camera refused the connection\)/);
      expect(err.hint).toMatch(/camera test/);
    }
    expect(h.parts.repo.list()).toEqual([]);
  });

  it('zero-byte segments in the index do not count as footage', async () => {
    const h = box();
    failing(h, 'dead');
    emptySegments(h, 'dead', h.clock.now() - 12_000);
    expect(refusal(h, ['dead']).code).toBe('never_recorded');

    // with a camera that has footage the incident is taken; the dead camera's clip is empty, saying why
    h.indexFootage('c1', footage, h.clock.now() - 20_000);
    const id = h.logIncident(['c1', 'dead'], { at: '10 seconds ago', before_s: 3, after_s: 3 }).id;
    await h.runFor(30_000, 5_000);
    const cams = h.parts.repo.cameras(id);
    expect(cams.find((c) => c.cameraId === 'c1')).toMatchObject({ clipState: 'done', coverage: 1 });
    expect(cams.find((c) => c.cameraId === 'dead')).toMatchObject({ clipState: 'empty', coverage: 0 });
    expect(cams.find((c) => c.cameraId === 'dead')!.error).toMatch(/camera dead has not recorded any footage yet; it is reconnecting/);
  });

  it('a camera that is recording but has not closed its first segment yet is not refused', () => {
    const h = box();
    new CameraStatusRepo(h.db).put({ cameraId: 'dead', state: 'recording', reason: null, sinceUtcMs: h.clock.now(), fps: 10, bitrateKbps: 500, lastSegmentEndUtcMs: null, spawns: 1, bootId: 'b', updatedUtcMs: h.clock.now() });
    expect(h.logIncident(['dead'], { at: 'now', before_s: 3, after_s: 3 }).state).toBe('logged');
  });
});
