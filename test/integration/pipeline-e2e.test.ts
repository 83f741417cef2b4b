import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openForceDb } from '../../daemon/src/force/database.js';
import type { AnalysisResult } from '../../daemon/src/vision/result.js';
import { makeCctvVideo } from '../../daemon/src/devkit/cctv.js';
import type { ForceKit } from '../../daemon/src/devkit/force.js';
import { runCli } from '../helpers/cli.js';
import { fileSha256, query } from '../helpers/evidence.js';
import { PUBLIC_FACE } from '../helpers/faces.js';
import { readDb, waitForFootage, waitForState } from '../helpers/incidents.js';
import { tempDir } from '../helpers/paths.js';
import { walker } from '../helpers/walkers.js';
import { startChain, type Chain } from '../helpers/chain.js';

/**
 * The whole chain on one machine, with nothing mocked: an RTSP camera showing a person walking past ->
 * recorder -> incident -> master clip -> faces -> package sealed to the force -> outbox -> Mosquitto
 * (TLS, generated ACL) -> force receiver -> signed receipt -> box `delivered`, plaintext gone.
 * The face is a public-domain photo from a Debian package, so this runs on a fresh clone.
 */
describe('camera to force, end to end', () => {
  let dir: string;
  let kit: ForceKit;
  let chain: Chain;
  let boxConfig: string;

  beforeAll(async () => {
    dir = tempDir('hs-pipeline-');
    const person = await walker('grace', PUBLIC_FACE, { t: 2, x: 100, y: 200, width: 220 }, { t: 40, x: 900, y: 160, width: 300 });
    const video = await makeCctvVideo(path.join(dir, 'shop.ts'), { seconds: 60, walkers: [person], width: 1280, height: 720, fps: 10, gop: 10, noise: 4, crf: 26 });
    chain = await startChain(dir, video);
    ({ kit, boxConfig } = chain);
  });

  afterAll(async () => {
    await chain?.stop();
  });

  it('delivers the best crops of the person to the force, byte-identical, and cleans up the box', async () => {
    const stateDir = path.join(dir, 'state');
    await waitForFootage(stateDir, ['till2'], 30);
    const db = readDb(stateDir);
    const first = db.prepare("SELECT MIN(start_utc_ms) FROM segments WHERE camera_id = 'till2'").pluck().get() as number;
    db.close();
    // the walker crosses from video second 2 to 40; the recording started with the video
    const at = new Date(first + 15_000).toISOString();
    const logged = await runCli(['incident', 'log', '--config', boxConfig, '--json', '--at', at, '--before', '10', '--after', '10', '--zone', 'tills', '--reason', 'theft', '--justification', 'took a bottle of gin from the shelf by till 2']);
    expect(logged.code, logged.stderr).toBe(0);
    const id = (JSON.parse(logged.stdout) as { id: string }).id;

    const done = await waitForState(stateDir, id, ['delivered', 'failed'], 240_000);
    expect(done.state, done.failure ?? '').toBe('delivered');

    // What the force stored: the signed package's analysis record (hashes computed on the box) and the files.
    const forceDb = path.join(kit.forceDir, 'force.db');
    const files = query<{ name: string; kind: string; sha256: string; path: string }>(forceDb, "SELECT f.name, f.kind, f.sha256, f.path FROM files f JOIN envelopes e ON e.envelope_id = f.envelope_id WHERE e.incident_id = ?", id);
    const analysisFile = files.find((f) => f.name === 'analysis.json');
    expect(analysisFile).toBeDefined();
    const analysis = JSON.parse(readFileSync(analysisFile!.path, 'utf8')) as AnalysisResult;
    expect(analysis.subjects.length).toBe(1);
    // every crop is dated inside the incident's window (clip times map to UTC through the clip's pieces)
    for (const c of analysis.subjects.flatMap((s) => s.crops)) {
      expect(Date.parse(c.time_utc)).toBeGreaterThanOrEqual(Date.parse(at) - 10_000 - 2_000); // a GOP before
      expect(Date.parse(c.time_utc)).toBeLessThanOrEqual(Date.parse(at) + 10_000);
    }
    const boxHashes = analysis.subjects.flatMap((s) => s.crops.map((c) => c.crop.sha256)).sort();
    const crops = files.filter((f) => f.kind === 'crop');
    expect(crops.length).toBe(boxHashes.length);
    expect(crops.map((c) => fileSha256(c.path)).sort()).toEqual(boxHashes);
    expect(files.some((f) => f.name === 'extraction.json')).toBe(true);
    expect(files.some((f) => f.kind === 'embeddings')).toBe(true);

    // The box: delivered, plaintext working files (crops, aligned faces, embeddings) gone, master clip kept.
    const incidentDir = path.join(stateDir, 'evidence', id);
    await waitForState(stateDir, id, ['delivered']);
    const { waitFor } = await import('../helpers/wait.js');
    await waitFor(() => !existsSync(path.join(incidentDir, 'faces', 'result.json')), { timeoutMs: 15_000, what: 'working files deleted' });
    const left = existsSync(path.join(incidentDir, 'faces')) ? readdirSync(path.join(incidentDir, 'faces'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()) : [];
    expect(left.map((e) => e.name)).toEqual([]);
    expect(existsSync(path.join(incidentDir, 'master', 'till2.ts'))).toBe(true);

    // `incident show` tells an operator what was found and where the evidence went
    const shown = await runCli(['incident', 'show', '--config', boxConfig, id]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`faces +1 person found, ${boxHashes.length} pictures kept, in \\d+ frames`));
    expect(shown.stdout).toMatch(/delivery +envelope \S+, \d+ KB: received by the force \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);

    const boxActions = query<{ action: string }>(path.join(stateDir, 'hindsight.db'), 'SELECT action FROM audit ORDER BY seq').map((r) => r.action);
    expect(boxActions).toEqual(expect.arrayContaining(['incident.logged', 'evidence.clip_extracted', 'evidence.faces_analysed', 'incident.sealed', 'incident.sending', 'incident.delivered', 'evidence.working_files_deleted']));
    const fdb = openForceDb(kit.forceDir);
    expect(fdb.audit.find({ action: 'evidence.received' }).length).toBeGreaterThanOrEqual(1);
    expect(fdb.audit.verify().ok).toBe(true);
    fdb.close();
    const verify = await runCli(['force', 'incidents', '--verify', '--config', kit.forceConfig]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect((await runCli(['audit', 'verify', '--config', boxConfig])).code).toBe(0);
  });
});
