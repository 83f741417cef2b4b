import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openForceDb } from '../../../daemon/src/force/database.js';
import { FleetRepo } from '../../../daemon/src/force/db/fleet.js';
import { systemClock } from '../../../daemon/src/util/clock.js';
import { runCommand } from '../../../daemon/src/util/child.js';
import { query } from '../../helpers/evidence.js';
import { consoleStore, FORCE_PROGRAM, startConsole, type ConsoleStore, type RunningConsole } from '../../helpers/force-console.js';
import { forceIntake } from '../../helpers/force-intake.js';
import { tempDir } from '../../helpers/paths.js';
import { parseExposition, sampleValue, type Sample } from '../../helpers/prometheus.js';
import { WebClient, type WebAnswer } from '../../helpers/web.js';

const PASSWORD = 'four unrelated words here';
const DAY_MS = 86_400_000;

/** The console's force.yaml with `console.metrics_token_file` set to a token file of mode `mode` (returned with its token). */
function withTokenFile(store: ConsoleStore, mode: number, name = 'metrics-token'): { token: string; file: string } {
  const token = randomBytes(32).toString('base64url');
  const file = path.join(store.forceDir, name);
  writeFileSync(file, `${token}\n`, { mode });
  writeFileSync(store.config, stringify({ force: { dir: '.' }, console: { host: '127.0.0.1', port: 0, metrics_token_file: name }, log: { level: 'warn', pretty: false } }));
  return { token, file };
}

describe("the force console's metrics: intake, triage, candidate lists, review queue and fleet, for an admin or the scrape token", () => {
  const dir = tempDir('hs-console-metrics-');
  let store: ConsoleStore;
  let running: RunningConsole;
  let token: string;
  const client = (): WebClient => new WebClient(running.port, running.ca);
  const scrape = (auth?: string): Promise<WebAnswer> => client().request('GET', '/metrics', undefined, auth === undefined ? {} : { headers: { authorization: auth } });
  const samples = async (): Promise<Sample[]> => {
    const answer = await scrape(`Bearer ${token}`);
    expect(answer.status, answer.text).toBe(200);
    return parseExposition(answer.text);
  };
  const db = (): string => path.join(store.forceDir, 'force.db');

  beforeAll(async () => {
    store = await consoleStore(dir);
    ({ token } = withTokenFile(store, 0o600));
    // what receivers write: a refused message, one box online with two alarms in its health document
    const fdb = openForceDb(store.forceDir);
    try {
      const caps = { max_envelope_bytes: 1e8, max_chunks: 1e4, reassembly_timeout_s: 600, max_pending_per_device: 8, missing_after_s: 5 };
      const outcome = await forceIntake(store.forceDir, fdb, systemClock, caps, async () => undefined).handle('hindsight/v1/box-a/ev/not-an-envelope/m', Buffer.from('not json'));
      expect(outcome.kind).toBe('rejected');
      const fleet = new FleetRepo(fdb.db);
      fleet.setState('box-a', { state: 'online', bootId: 'boot-1', bdSeq: 1, version: '1.0.0' }, systemClock.now());
      fleet.setHealth('box-a', { version: '1.0.0', cameras: [], alarms: [{ kind: 'camera.down', subject: 'till-1', since: 1 }, { kind: 'clock.unsynced', subject: 'clock', since: 1 }] }, systemClock.now());
    } finally {
      fdb.close();
    }
    running = await startConsole(store);
  }, 120_000);
  afterAll(async () => {
    await running?.proc.stop();
  });

  it('refuses a scrape without a login or with a wrong token, and says what to set up', async () => {
    const anon = await scrape();
    expect(anon.status).toBe(401);
    expect(String(anon.body.hint)).toContain('console.metrics_token_file');
    const wrong = await scrape(`Bearer ${randomBytes(32).toString('base64url')}`);
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ error: 'bad_scrape_token' });
    expect(wrong.text).not.toContain('hindsight_force_');
  });

  it('serves the intake and triage as the force database has them', async () => {
    const s = await samples();
    const envelopes = query<{ state: string; n: number }>(db(), 'SELECT state, count(*) AS n FROM envelopes GROUP BY state');
    expect(envelopes.find((e) => e.state === 'stored')?.n).toBeGreaterThanOrEqual(3);
    for (const state of ['receiving', 'opening', 'stored', 'rejected']) expect(sampleValue(s, 'hindsight_force_envelopes', { state }), state).toBe(envelopes.find((e) => e.state === state)?.n ?? 0);
    expect(sampleValue(s, 'hindsight_force_reassembly_bytes')).toBe(0);
    const rejections = query<{ reason: string; n: number }>(db(), `SELECT reason, count(*) AS n FROM rejections WHERE ts_utc >= ${Date.now() - DAY_MS} GROUP BY reason`);
    expect(rejections.length).toBe(1);
    expect(sampleValue(s, 'hindsight_force_rejections_24h', { reason: rejections[0]!.reason })).toBe(rejections[0]!.n);
    // each box's newest envelope: the scrape's age lies between the database's and now
    for (const box of ['box-a', 'box-b', 'box-c']) {
      const first = query<{ t: number }>(db(), `SELECT MAX(first_seen_utc) AS t FROM envelopes WHERE device_id = '${box}'`)[0]!.t;
      const age = sampleValue(s, 'hindsight_force_box_last_envelope_age_seconds', { device: box })!;
      expect(age, box).toBeGreaterThan(0);
      expect(age, box).toBeLessThanOrEqual((Date.now() - first) / 1000);
    }
    expect(sampleValue(s, 'hindsight_force_triage', { state: 'untriaged' })).toBe(3);
    expect(sampleValue(s, 'hindsight_force_triage', { state: 'accepted' })).toBe(0);
    const oldest = query<{ t: number }>(db(), "SELECT MIN(received_utc) AS t FROM triage WHERE state = 'untriaged'")[0]!.t;
    expect(sampleValue(s, 'hindsight_force_triage_oldest_age_seconds')).toBeLessThanOrEqual((Date.now() - oldest) / 1000);
    expect(sampleValue(s, 'hindsight_force_triage_oldest_age_seconds')).toBeGreaterThan(0);
    expect(sampleValue(s, 'hindsight_force_candidate_lists')).toBe(0);
    expect(sampleValue(s, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
  });

  it('serves the fleet by box id: presence, alarms, and the boxes never seen', async () => {
    const s = await samples();
    expect(sampleValue(s, 'hindsight_force_boxes', { state: 'online' })).toBe(1);
    expect(sampleValue(s, 'hindsight_force_boxes', { state: 'never_seen' })).toBe(2);
    expect(sampleValue(s, 'hindsight_force_box_online', { device: 'box-a' })).toBe(1);
    expect(sampleValue(s, 'hindsight_force_box_online', { device: 'box-b' })).toBe(0);
    expect(sampleValue(s, 'hindsight_force_box_alarms', { device: 'box-a' })).toBe(2);
    expect(sampleValue(s, 'hindsight_force_box_alarms', { device: 'box-b' })).toBe(0);
    expect(sampleValue(s, 'hindsight_force_box_audit_alarm', { device: 'box-a' })).toBe(0);
    const text = (await scrape(`Bearer ${token}`)).text;
    for (const store of ['High Street', 'Market Square', 'Station Road']) expect(text, 'no store names').not.toContain(store);
  });

  it("serves an admin's login, refuses a supervisor; a triage decision shows in the candidate lists and the review queue", async () => {
    const admin = client();
    expect((await admin.post('/api/v1/setup', { code: running.setupCode, name: 'Ada', password: PASSWORD })).status).toBe(201);
    expect((await admin.get('/metrics')).status).toBe(200);
    expect((await admin.post('/api/v1/accounts', { name: 'Sam', role: 'supervisor', password: PASSWORD })).status).toBe(201);
    const supervisor = client();
    expect((await supervisor.post('/api/v1/login', { name: 'Sam', password: PASSWORD })).status).toBe(200);
    const refused = await supervisor.get('/metrics');
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ error: 'metrics_forbidden' });

    const accepted = await supervisor.post(`/api/v1/triage/${store.incidents.till}/accept`, { crime_ref: 'CR/2026/0417', necessity: 'theft of razor blades, repeat offender', subjects: ['s0'] });
    expect(accepted.status, accepted.text).toBe(200);
    const s = await samples();
    expect(sampleValue(s, 'hindsight_force_triage', { state: 'untriaged' })).toBe(2);
    expect(sampleValue(s, 'hindsight_force_triage', { state: 'accepted' })).toBe(1);
    const lists = query<{ lists: number; n: number }>(db(), "SELECT count(DISTINCT subject_id) AS lists, count(*) AS n FROM candidates")[0]!;
    expect(lists.n).toBeGreaterThan(0);
    expect(sampleValue(s, 'hindsight_force_candidate_lists')).toBe(lists.lists);
    expect(sampleValue(s, 'hindsight_force_candidates')).toBe(lists.n);
    expect(sampleValue(s, 'hindsight_force_review_cases', { state: 'to_review' })).toBe(1);
    expect(sampleValue(s, 'hindsight_force_review_cases', { state: 'confirmed' })).toBe(0);
  });
});

describe('the force console with a scrape token file that cannot be used', () => {
  it('refuses to start, saying which file and what to do (readable by others, missing)', async () => {
    const store = await consoleStore(tempDir('hs-console-metrics-bad-'));
    const { file } = withTokenFile(store, 0o644);
    const open = await runCommand(process.execPath, [FORCE_PROGRAM, 'console', '--config', store.config], { timeoutMs: 60_000 });
    expect(open.code).not.toBe(0);
    expect(open.stderr).toContain('can be read by other users (mode 644)');
    expect(open.stderr).toContain(`chmod 600 ${file}`);
    writeFileSync(store.config, stringify({ force: { dir: '.' }, console: { host: '127.0.0.1', port: 0, metrics_token_file: 'no-such-file' }, log: { level: 'warn', pretty: false } }));
    const missing = await runCommand(process.execPath, [FORCE_PROGRAM, 'console', '--config', store.config], { timeoutMs: 60_000 });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain(`the scrape token file ${path.join(store.forceDir, 'no-such-file')} (console.metrics_token_file) does not exist`);
  }, 120_000);
});
