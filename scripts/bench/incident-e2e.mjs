// The whole chain, timed: four RTSP cameras (a shop scene where people walk past) -> daemon -> an
// incident with a 90 s window on all four -> master clips -> faces -> sealed -> Mosquitto (TLS, generated
// ACL) -> force receiver -> signed receipt, while eight more cameras record on the same daemon. The
// figures: seconds from the moment the window closes to the force's receipt on the box, with the time of
// each step from the audit; and for the eight other cameras, while the incident was worked on, the gaps
// opened and the holes between consecutive segments (recording must not suffer from the analysis).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { round } from './_measure.mjs';

const INCIDENT_CAMERAS = 4;
const OTHER_CAMERAS = 8;

export async function run({ root, log }) {
  const dist = (p) => import(path.join(root, 'daemon/dist', p));
  const { startCamera } = await dist('devkit/camera.js');
  const { startForceKit, enrollBox } = await dist('devkit/force.js');
  const { ManagedProcess, stopAllManaged } = await dist('devkit/process.js');
  const { makeCctvVideo } = await dist('devkit/cctv.js');
  const { lengthenVideo } = await dist('devkit/media.js');
  const { walker, PUBLIC_DOMAIN_FACE } = await dist('devkit/walkers.js');
  const { runCommand } = await dist('util/child.js');
  const cli = path.join(root, 'daemon/dist/cli/main.js');

  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-bench-e2e-'));
  try {
    log('making 150 s of 1080p footage with two people walking past');
    const a = await walker('a', PUBLIC_DOMAIN_FACE, { t: 5, x: 100, y: 300, width: 200 }, { t: 80, x: 1500, y: 250, width: 320 });
    const b = await walker('b', PUBLIC_DOMAIN_FACE, { t: 60, x: 1600, y: 500, width: 180 }, { t: 140, x: 200, y: 350, width: 260 });
    const scene = await makeCctvVideo(path.join(dir, 'shop-150s.ts'), { seconds: 150, walkers: [a, b], width: 1920, height: 1080, fps: 25, gop: 50, noise: 4, bitrateKbps: 4000, seed: 3 });
    // the cameras replay it once: long enough to outlast the recording before the incident and its whole work
    const video = await lengthenVideo(scene, path.join(dir, 'shop.ts'), 450);
    const kit = await startForceKit(dir, { devices: [{ id: 'bench-box', store: 'Bench Store' }] });
    const config = path.join(dir, 'config.yaml');
    writeFileSync(config, stringify({ version: 1, device: { id: 'bench-box', store: 'Bench Store' }, paths: { state_dir: path.join(dir, 'state') }, log: { level: 'info', pretty: false }, cameras: { networks: ['127.0.0.0/8'] }, buffer: { min_free_gb: 0 }, web: { host: '127.0.0.1', port: 0 } }));
    enrollBox(config, kit.bundle('bench-box'), kit.forceDir);
    const cams = await Promise.all(Array.from({ length: INCIDENT_CAMERAS + OTHER_CAMERAS }, () => startCamera({ mode: 'file', file: video })));
    const ids = cams.map((_, i) => (i < INCIDENT_CAMERAS ? `cam${i + 1}` : `other${i + 1 - INCIDENT_CAMERAS}`));
    for (const [i, cam] of cams.entries()) {
      const r = await runCommand(process.execPath, [cli, 'camera', 'add', '--config', config, '--id', ids[i], '--name', ids[i], '--url', cam.url]);
      if (r.code !== 0) throw new Error(r.stderr);
    }
    const incidentIds = ids.slice(0, INCIDENT_CAMERAS);
    const otherIds = ids.slice(INCIDENT_CAMERAS);
    const receiver = new ManagedProcess(process.execPath, [path.join(root, 'daemon/dist/force/main.js'), 'receive', '--config', kit.forceConfig]);
    await receiver.waitForLine(/receiving evidence/, 60_000);
    const daemon = new ManagedProcess(process.execPath, [cli, 'run', '--config', config]);
    await daemon.waitForLine(/"msg":"hindsight running"/, 60_000);
    log(`recording ${ids.length} cameras for 100 s`);
    await new Promise((r) => setTimeout(r, 100_000));

    const windowClose = Date.now();
    const logged = await runCommand(process.execPath, [cli, 'incident', 'log', '--config', config, '--json', '--at', 'now', '--before', '90', '--after', '0', '--camera', ...incidentIds, '--reason', 'theft', '--justification', 'benchmark incident, 90 s on four cameras']);
    if (logged.code !== 0) throw new Error(logged.stderr);
    const id = JSON.parse(logged.stdout.toString()).id;
    const db = new Database(path.join(dir, 'state', 'hindsight.db'), { readonly: true });
    let state = '';
    while (!['delivered', 'failed'].includes(state)) {
      await new Promise((r) => setTimeout(r, 250));
      state = db.prepare('SELECT state FROM incidents WHERE id = ?').pluck().get(id);
    }
    const receiptSeconds = (Date.now() - windowClose) / 1000;
    const rows = db.prepare("SELECT action, ts_utc FROM audit WHERE object_ids LIKE '%' || ? || '%' ORDER BY seq").all(id);
    const failure = db.prepare('SELECT failure FROM incidents WHERE id = ?').pluck().get(id);
    const analysis = db.prepare("SELECT detail FROM audit WHERE action = 'evidence.faces_analysed' AND object_ids LIKE '%' || ? || '%'").pluck().get(id);
    // the other cameras while the incident was worked on (from 10 s before the window's close to the receipt):
    // gaps opened, and holes between consecutive segments of each camera
    const from = windowClose - 10_000;
    const to = windowClose + receiptSeconds * 1000;
    const others = otherIds.map((camera) => {
      const segs = db.prepare('SELECT start_utc_ms AS s, end_utc_ms AS e FROM segments WHERE camera_id = ? AND end_utc_ms > ? AND start_utc_ms < ? ORDER BY start_utc_ms').all(camera, from, to);
      const holes = segs.slice(1).filter((g, i) => g.s - segs[i].e > 250).length;
      const gapReasons = db.prepare('SELECT reason FROM gaps WHERE camera_id = ? AND (end_utc_ms IS NULL OR end_utc_ms > ?) AND start_utc_ms < ?').pluck().all(camera, from, to);
      const gaps = gapReasons.length;
      return { camera, segments: segs.length, holes, gaps, gap_reasons: gapReasons };
    });
    db.close();
    await daemon.stop();
    await stopAllManaged();
    if (state !== 'delivered') throw new Error(`incident failed: ${failure}`);
    const at = (action) => rows.find((r) => r.action === action)?.ts_utc;
    const steps = {
      wait_for_footage_s: (at('incident.extracting') - windowClose) / 1000,
      extract_s: (at('incident.analysing') - at('incident.extracting')) / 1000,
      faces_and_seal_s: (at('incident.sealed') - at('incident.analysing')) / 1000,
      send_and_receipt_s: (at('incident.delivered') - at('incident.sealed')) / 1000,
    };
    const summary = {
      window_s: 90,
      cameras: INCIDENT_CAMERAS,
      other_cameras_recording: OTHER_CAMERAS,
      resolution: '1920x1080@25',
      seconds_window_close_to_receipt: round(receiptSeconds, 1),
      ...Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, round(v, 1)])),
      other_cameras_gaps: others.reduce((n, o) => n + o.gaps, 0),
      other_cameras_holes: others.reduce((n, o) => n + o.holes, 0),
      other_cameras_segments: others.reduce((n, o) => n + o.segments, 0),
      pass_under_60_s: receiptSeconds < 60,
      pass_recording_unharmed: others.every((o) => o.gaps === 0 && o.holes === 0),
      analysis: JSON.parse(analysis ?? '{}'),
    };
    log(JSON.stringify(summary));
    return { summary, others, targets: { seconds_window_close_to_receipt: '< 60', other_cameras_gaps: 0, other_cameras_holes: 0 } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
