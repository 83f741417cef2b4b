import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlRequest, ControlError } from '../../../daemon/src/control/client.js';
import type { IncidentView } from '../../../daemon/src/incidents/desk.js';
import { sha256File } from '../../../daemon/src/util/hash.js';
import { runCli, startDaemon, writeConfig } from '../../helpers/cli.js';
import { addCamera, readDb, waitForFootage } from '../../helpers/incidents.js';
import { decodeErrors, probe } from '../../helpers/media.js';
import { tempDir } from '../../helpers/paths.js';
import type { TestProcess } from '../../helpers/process.js';
import { recorderConfigOverrides } from '../../helpers/recorder.js';
import { startCamera, type RtspTestCamera } from '../../helpers/rtsp-camera.js';
import { waitFor } from '../../helpers/wait.js';

const FPS = 10;
const GOP_MS = 1000; // key-int-max 10 at 10 fps
const FRAME_MS = 1000 / FPS;

describe('incidents with real cameras, recorder and ffmpeg', () => {
  let dir: string;
  let stateDir: string;
  let config: string;
  let daemon: TestProcess;
  let cam1: RtspTestCamera;
  let cam2: RtspTestCamera;

  const log = async (args: string[]): Promise<{ code: number | null; view?: IncidentView; stderr: string }> => {
    const r = await runCli(['incident', 'log', '--config', config, '--json', '--reason', 'theft', ...args]);
    return { code: r.code, stderr: r.stderr, view: r.code === 0 || r.code === 1 ? (JSON.parse(r.stdout) as IncidentView) : undefined };
  };

  beforeAll(async () => {
    dir = tempDir();
    stateDir = path.join(dir, 'state');
    [cam1, cam2] = await Promise.all([startCamera({ width: 320, height: 240, fps: FPS, gop: FPS }), startCamera({ width: 320, height: 240, fps: FPS, gop: FPS })]);
    config = writeConfig(dir, { ...recorderConfigOverrides({ recorder: { segment_seconds: 2 } }), incidents: { wait_for_footage_s: 20, per_user_per_hour: 10 } });
    await addCamera(config, 'cam1', cam1.url, ['--zone', 'till-2']);
    await addCamera(config, 'cam2', cam2.url, ['--zone', 'door']);
    daemon = startDaemon(config);
    await daemon.waitForLine(/"msg":"hindsight running"/, 60_000);
    // the first check asks for a window 50..30 s ago on both cameras
    await waitForFootage(stateDir, ['cam1', 'cam2'], 55);
  });

  afterAll(async () => {
    await daemon?.stop();
  });

  it('cuts one master clip per camera exactly covering a past window, hashed, with 100 % coverage', async () => {
    const r = await log(['--at', '40 seconds ago', '--before', '10', '--after', '10', '--camera', 'cam1', 'cam2', '--justification', 'man took razor blades from aisle 4', '--wait']);
    expect(r.code, r.stderr).toBe(0);
    const i = r.view!;
    expect(i.state).toBe('analysing');
    expect(i.windowToMs - i.windowFromMs).toBe(20_000);
    const incidentDir = path.join(stateDir, 'evidence', i.id);
    const manifest = JSON.parse(readFileSync(path.join(incidentDir, 'manifest.json'), 'utf8')) as { cameras: { camera: string; coverage: number; gaps: unknown[]; clip: { file: string; sha256: string; start: string; end: string } }[] };
    expect(readdirSync(path.join(incidentDir, 'master')).sort()).toEqual(['cam1.ts', 'cam2.ts']);
    for (const cam of i.cameras) {
      expect(cam.clipState).toBe('done');
      expect(cam.coverage).toBe(1);
      expect(cam.gaps).toBe(0);
      const file = path.join(incidentDir, cam.clipPath!);
      const entry = manifest.cameras.find((c) => c.camera === cam.cameraId)!;
      expect(entry.clip.sha256).toBe(await sha256File(file));
      expect(entry.coverage).toBe(1);
      expect(entry.gaps).toEqual([]);
      // starts on the keyframe at or before the window start (within one GOP), ends at the window end
      expect(i.windowFromMs - cam.clipStartMs!).toBeGreaterThanOrEqual(0);
      expect(i.windowFromMs - cam.clipStartMs!).toBeLessThanOrEqual(GOP_MS);
      // the clip's end is its last frame's end, measured: that frame starts before the window end
      expect(cam.clipEndMs! - i.windowToMs).toBeGreaterThanOrEqual(0);
      expect(cam.clipEndMs! - i.windowToMs).toBeLessThanOrEqual(FRAME_MS);
      const info = await probe(file, true);
      const clipMs = info.frames! * FRAME_MS;
      expect(Math.abs(clipMs - (i.windowToMs - cam.clipStartMs!))).toBeLessThanOrEqual(FRAME_MS + 1);
      expect(Math.abs(clipMs - (cam.clipEndMs! - cam.clipStartMs!))).toBeLessThanOrEqual(FRAME_MS / 2);
      expect(await decodeErrors(file)).toBe('');
    }
  });

  it('waits for a window that ends in the future, then extracts all of it', async () => {
    const r = await log(['--at', 'now', '--before', '5', '--after', '15', '--camera', 'cam1', '--justification', 'shouting at staff at the door', '--wait']);
    expect(r.code, r.stderr).toBe(0);
    const i = r.view!;
    expect(i.state).toBe('analysing');
    expect(i.cameras[0]!.coverage).toBe(1);
    expect(i.cameras[0]!.clipEndMs! - i.windowToMs).toBeGreaterThanOrEqual(0);
    expect(i.cameras[0]!.clipEndMs! - i.windowToMs).toBeLessThanOrEqual(FRAME_MS);
    const db = readDb(stateDir);
    const actions = (db.prepare("SELECT action FROM audit WHERE object_ids LIKE '%' || ? || '%' ORDER BY seq").pluck().all(i.id) as string[]);
    db.close();
    expect(actions).toEqual(['incident.logged', 'incident.waiting', 'incident.extracting', 'evidence.clip_extracted', 'incident.analysing']);
  });

  it('reports a camera outage inside the window as a gap with coverage under 100 %, and still makes the clip', async () => {
    const outageStart = Date.now();
    await cam2.kill9();
    await new Promise((r) => setTimeout(r, 5000));
    await cam2.start(); // same port
    const back = Date.now();
    // recording resumes: wait for footage after the camera came back
    await waitFor(
      () => {
        const db = readDb(stateDir);
        const n = db.prepare('SELECT MAX(end_utc_ms) FROM segments WHERE camera_id = ?').pluck().get('cam2') as number;
        db.close();
        return n > back + 6000;
      },
      { timeoutMs: 60_000, what: 'cam2 recording again' },
    );
    const at = new Date(Math.round((outageStart + back) / 2)).toISOString();
    const r = await log(['--at', at, '--before', '10', '--after', '10', '--camera', 'cam2', '--justification', 'fight near the door at closing', '--wait']);
    expect(r.code, r.stderr).toBe(0);
    const cam = r.view!.cameras[0]!;
    expect(cam.clipState).toBe('done');
    expect(cam.coverage!).toBeLessThan(1);
    expect(cam.coverage!).toBeGreaterThan(0.3);
    const manifest = JSON.parse(readFileSync(path.join(stateDir, 'evidence', r.view!.id, 'manifest.json'), 'utf8')) as { cameras: { gaps: { from: string; to: string }[] }[] };
    const gaps = manifest.cameras[0]!.gaps;
    expect(gaps).toHaveLength(1);
    expect(cam.gaps, 'the incident view (CLI, web app) counts the hole').toBe(1);
    const gapMs = Date.parse(gaps[0]!.to) - Date.parse(gaps[0]!.from);
    expect(gapMs).toBeGreaterThanOrEqual(4000);
    expect(gapMs).toBeLessThan(15_000);
    expect(await decodeErrors(path.join(stateDir, 'evidence', r.view!.id, cam.clipPath!))).toBe('');
  });

  it('refuses bad requests with clear errors and keeps running', async () => {
    const bad = async (args: string[], want: RegExp): Promise<void> => {
      const r = await runCli(['incident', 'log', '--config', config, '--reason', 'theft', ...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(want);
      expect(r.stderr).toMatch(/what to do:/);
    };
    await bad(['--before', '500', '--after', '200', '--camera', 'cam1', '--justification', 'long event in the shop'], /longer than the 600 s allowed/);
    await bad(['--camera', 'cam1', '--justification', 'short'], /at least 10 characters/);
    await bad(['--camera', 'nope', '--justification', 'someone stole a phone'], /unknown camera nope/);
    await bad(['--camera', '../../etc/passwd', '--justification', 'someone stole a phone'], /not a camera id/);
    await bad(['--zone', 'car park', '--justification', 'someone stole a phone'], /no camera is in zone/);
    await bad(['--at', '2030-01-01T00:00:00Z', '--camera', 'cam1', '--justification', 'someone stole a phone'], /in the future/);
    await bad(['--at', '3 days ago', '--camera', 'cam1', '--justification', 'someone stole a phone'], /older than the rolling buffer/);
    const r = await runCli(['incident', 'log', '--config', config, '--reason', 'arson', '--all', '--justification', 'someone stole a phone']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/reason/);

    for (const id of ['../../etc/passwd', '..%2f..%2fetc', '/etc/passwd', '%00']) {
      const show = await runCli(['incident', 'show', '--config', config, id]);
      expect(show.code, id).not.toBe(0);
      expect(show.stderr).toMatch(/not an incident id|not found|no incident/);
    }
    // the API refuses unknown fields and wrong types outright
    await expect(controlRequest(stateDir, 'POST', '/v1/incidents', { reason: 'theft', justification: 'someone stole a phone', all: true, sneaky: 1 })).rejects.toMatchObject({ status: 400 });
    // who acts is the caller's proven user: a request naming its own actor is refused
    await expect(controlRequest(stateDir, 'POST', '/v1/incidents', { reason: 'theft', justification: 'someone stole a phone', by: { type: 'user', id: 'manager' }, all: true })).rejects.toMatchObject({ status: 400 });
    await expect(controlRequest(stateDir, 'POST', '/v1/incidents', { reason: 'theft', justification: 'someone stole a phone', before_s: '10', all: true })).rejects.toMatchObject({ status: 400 });
    expect(daemon.child.running).toBe(true);
  });

  it('rate-limits a burst of 50 incidents per person and per box, keeping the queue bounded', async () => {
    const results: { ok: boolean; code?: string }[] = [];
    // all from this test's user (the control socket names the caller by its proven user)
    for (let n = 0; n < 50; n++) {
      try {
        await controlRequest(stateDir, 'POST', '/v1/incidents', { at: 'now', before_s: 4, after_s: 0, camera: undefined, cameras: ['cam1'], reason: 'threat_abuse', justification: 'abusive customer at till two' });
        results.push({ ok: true });
      } catch (err) {
        expect(err).toBeInstanceOf(ControlError);
        results.push({ ok: false, code: (err as ControlError).code });
      }
    }
    const accepted = results.filter((r) => r.ok).length;
    const refused = results.filter((r) => !r.ok).map((r) => r.code);
    // at most max_open (20) may be open at once, and 10 per person per hour
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThanOrEqual(10);
    expect(refused).toContain('rate_limited_user');
    expect(refused.length).toBe(50 - accepted);
    expect(new Set(refused)).toEqual(new Set(refused.filter((c) => ['rate_limited_user', 'rate_limited_device', 'queue_full'].includes(c!))));
    const db = readDb(stateDir);
    const open = db.prepare("SELECT count(*) FROM incidents WHERE state IN ('logged','waiting','extracting')").pluck().get() as number;
    db.close();
    expect(open).toBeLessThanOrEqual(20);
    const list = await runCli(['incident', 'list', '--config', config]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/QUEUE/);
    expect(daemon.child.running).toBe(true);
  });

  it('records every transition in the tamper-evident audit log', async () => {
    const db = readDb(stateDir);
    const rows = db.prepare("SELECT action FROM audit WHERE action LIKE 'incident.%'").pluck().all() as string[];
    db.close();
    expect(rows.filter((a) => a === 'incident.logged').length).toBeGreaterThanOrEqual(4);
    expect(rows).toContain('incident.analysing');
    const verify = await runCli(['audit', 'verify', '--config', config]);
    expect(verify.code, verify.stdout).toBe(0);
  });
});
