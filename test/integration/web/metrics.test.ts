import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEGMENT_IS_LOCKED } from '../../../daemon/src/db/repos/evidence-locks.js';
import { runCli, startDaemon, writeConfig } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/paths.js';
import type { TestProcess } from '../../helpers/process.js';
import { declaredNames, parseExposition, sampleValue, type Sample } from '../../helpers/prometheus.js';
import { queryStateDb, recorderConfigOverrides } from '../../helpers/recorder.js';
import { startCamera } from '../../helpers/rtsp-camera.js';
import { waitFor } from '../../helpers/wait.js';
import { WEB_TEST_CONFIG, WebClient, webOf, type WebAnswer } from '../../helpers/web.js';

const PASSWORD = 'correct horse battery staple';
const CAMERA = 'till-2';
const DAY_MS = 86_400_000;

/** Every figure the box declares (README: Metrics), beside Node's own. */
const BOX_METRICS = [
  'hindsight_camera_state',
  'hindsight_camera_fps',
  'hindsight_camera_bitrate_bits_per_second',
  'hindsight_camera_last_segment_age_seconds',
  'hindsight_camera_buffered_bytes',
  'hindsight_camera_buffered_seconds',
  'hindsight_camera_recorder_starts',
  'hindsight_camera_gaps_24h',
  'hindsight_camera_locked_bytes',
  'hindsight_buffer_bytes',
  'hindsight_buffer_quota_bytes',
  'hindsight_buffer_retention_seconds',
  'hindsight_buffer_locked_bytes',
  'hindsight_buffer_deletions_24h',
  'hindsight_buffer_deleted_segments_24h',
  'hindsight_buffer_deleted_bytes_24h',
  'hindsight_incidents',
  'hindsight_incident_attempts',
  'hindsight_incident_step_seconds',
  'hindsight_pipeline_analysis_seconds',
  'hindsight_pipeline_stage_seconds',
  'hindsight_outbox_envelopes',
  'hindsight_outbox_bytes',
  'hindsight_outbox_oldest_age_seconds',
  'hindsight_uplink_state',
  'hindsight_alarms',
  'hindsight_healthy',
  'hindsight_ready',
];

/** A token file as an operator makes one: a random line, mode `mode`. */
function tokenFile(dir: string, mode: number): { file: string; token: string } {
  const token = randomBytes(32).toString('base64url');
  const file = path.join(dir, 'metrics-token');
  writeFileSync(file, `${token}\n`, { mode });
  return { file, token };
}

describe('box metrics: GET /metrics for a manager or a scraper with the token, with the figures the daemon has', () => {
  const dir = tempDir();
  let daemon: TestProcess;
  let port: number;
  let ca: string;
  let setupCode: string | undefined;
  let token: string;
  let camera: Awaited<ReturnType<typeof startCamera>>;
  const client = (): WebClient => new WebClient(port, ca);
  const scrape = (auth?: string): Promise<WebAnswer> => client().request('GET', '/metrics', undefined, auth === undefined ? {} : { headers: { authorization: auth } });
  const samples = async (): Promise<Sample[]> => {
    const answer = await scrape(`Bearer ${token}`);
    expect(answer.status, answer.text).toBe(200);
    return parseExposition(answer.text);
  };

  beforeAll(async () => {
    const t = tokenFile(dir, 0o600);
    token = t.token;
    const config = writeConfig(dir, {
      ...recorderConfigOverrides({ recorder: { segment_seconds: 2 }, buffer: { hours: 48, quota_gb: 1 } }),
      web: { ...WEB_TEST_CONFIG.web, metrics_token_file: t.file },
      // an incident of the last few seconds: its footage is there at once
      incidents: { window_before_s: 4, window_after_s: 0, wait_for_footage_s: 5 },
    });
    camera = await startCamera({ width: 320, height: 240, fps: 5, gop: 5 });
    const add = await runCli(['camera', 'add', '--config', config, '--id', CAMERA, '--name', 'Till 2', '--zone', 'Tills', '--url', camera.url]);
    expect(add.code, add.stderr).toBe(0);
    daemon = startDaemon(config);
    ({ port, ca, setupCode } = await webOf(daemon, path.join(dir, 'state')));
  }, 60_000);
  afterAll(async () => {
    await daemon?.stop();
    await camera?.stop();
  });

  it('refuses a scrape without a login, with a wrong token or another scheme, and says what to set up', async () => {
    const anon = await scrape();
    expect(anon.status).toBe(401);
    expect(anon.body).toMatchObject({ error: 'metrics_unauthorized' });
    expect(String(anon.body.hint)).toContain('web.metrics_token_file');
    const wrong = await scrape(`Bearer ${randomBytes(32).toString('base64url')}`);
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ error: 'bad_scrape_token', message: 'wrong scrape token' });
    // the token with a character more or less, another scheme, or no token after the scheme
    for (const auth of [`Bearer ${token}x`, `Bearer ${token.slice(1)}`, `Basic ${Buffer.from(`x:${token}`).toString('base64')}`, 'Bearer ', token]) {
      const answer = await scrape(auth);
      expect(answer.status, auth).toBe(401);
      expect(answer.text, 'nothing of the metrics').not.toContain('hindsight_');
    }
  });

  it("serves the camera's state, frame rate, bitrate, newest segment, buffer and gaps as the database has them", async () => {
    await waitFor(() => queryStateDb(dir, `SELECT id FROM segments WHERE camera_id = '${CAMERA}'`).length > 0, { timeoutMs: 30_000, what: 'a first segment' });
    const recording = await waitFor(
      async () => {
        const s = await samples();
        const measured = ['hindsight_camera_fps', 'hindsight_camera_bitrate_bits_per_second'].every((n) => sampleValue(s, n, { camera: CAMERA }) !== undefined);
        return sampleValue(s, 'hindsight_camera_state', { camera: CAMERA, state: 'recording' }) === 1 && measured ? s : undefined;
      },
      { timeoutMs: 30_000, what: 'the camera recording and measured, as the metrics say' },
    );
    const others = recording.filter((x) => x.name === 'hindsight_camera_state' && x.labels.state !== 'recording');
    expect(others.map((x) => x.labels.state).sort()).toEqual(['disabled', 'failed', 'reconnecting', 'undecodable', 'unknown']);
    expect(others.every((x) => x.value === 0)).toBe(true);

    // the buffer as the database has it before and after one scrape brackets what the scrape says
    const buffered = (): { bytes: number; ms: number; newestEnd: number } =>
      queryStateDb<{ bytes: number; ms: number; newestEnd: number }>(dir, `SELECT SUM(bytes) AS bytes, SUM(end_utc_ms - start_utc_ms) AS ms, MAX(end_utc_ms) AS newestEnd FROM segments WHERE camera_id = '${CAMERA}'`)[0]!;
    const before = buffered();
    const t0 = Date.now();
    const s = await samples();
    const t1 = Date.now();
    const after = buffered();
    const value = (name: string): number => sampleValue(s, name, { camera: CAMERA }) ?? NaN;
    expect(value('hindsight_camera_buffered_bytes')).toBeGreaterThanOrEqual(before.bytes);
    expect(value('hindsight_camera_buffered_bytes')).toBeLessThanOrEqual(after.bytes);
    expect(value('hindsight_camera_buffered_seconds')).toBeGreaterThanOrEqual(before.ms / 1000 - 0.001);
    expect(value('hindsight_camera_buffered_seconds')).toBeLessThanOrEqual(after.ms / 1000 + 0.001);
    expect(sampleValue(s, 'hindsight_buffer_bytes')).toBeGreaterThanOrEqual(before.bytes);
    expect(value('hindsight_camera_last_segment_age_seconds')).toBeGreaterThanOrEqual((t0 - after.newestEnd) / 1000 - 0.001);
    expect(value('hindsight_camera_last_segment_age_seconds')).toBeLessThanOrEqual((t1 - before.newestEnd) / 1000 + 0.001);

    // frame rate and bitrate: what the recorder last wrote (the test camera sends 5 fps)
    const status = queryStateDb<{ fps: number; bitrate_kbps: number; spawns: number }>(dir, `SELECT fps, bitrate_kbps, spawns FROM camera_status WHERE camera_id = '${CAMERA}'`)[0]!;
    expect(value('hindsight_camera_fps')).toBeGreaterThan(3);
    expect(value('hindsight_camera_fps')).toBeLessThan(7);
    expect(value('hindsight_camera_bitrate_bits_per_second')).toBeGreaterThan(0);
    expect(value('hindsight_camera_recorder_starts')).toBe(status.spawns);
    expect(status.spawns).toBeGreaterThanOrEqual(1);
    const gaps = queryStateDb<{ n: number }>(dir, `SELECT count(*) AS n FROM gaps WHERE camera_id = '${CAMERA}' AND (end_utc_ms IS NULL OR end_utc_ms > ${Date.now() - DAY_MS})`)[0]!.n;
    expect(value('hindsight_camera_gaps_24h')).toBe(gaps);
    expect(sampleValue(s, 'hindsight_buffer_quota_bytes')).toBe(1024 ** 3);
    expect(sampleValue(s, 'hindsight_buffer_retention_seconds')).toBe(48 * 3600);

    // the box's link and outbox: not enrolled, nothing waiting
    expect(sampleValue(s, 'hindsight_uplink_state', { state: 'not_enrolled' })).toBe(1);
    expect(sampleValue(s, 'hindsight_uplink_state', { state: 'connected' })).toBe(0);
    expect(sampleValue(s, 'hindsight_outbox_envelopes')).toBe(0);
    expect(sampleValue(s, 'hindsight_outbox_oldest_age_seconds')).toBe(0);
    expect(sampleValue(s, 'hindsight_ready')).toBe(1);
    // Node's own figures, the event loop's lag among them
    expect(sampleValue(s, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(sampleValue(s, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  }, 60_000);

  it('declares every figure, and names cameras by id only', async () => {
    const answer = await scrape(`Bearer ${token}`);
    expect(answer.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(answer.headers['cache-control']).toBe('no-store');
    const names = declaredNames(answer.text);
    for (const n of BOX_METRICS) expect(names, n).toContain(n);
    expect(answer.text).not.toContain('Till 2');
    expect(answer.text).not.toContain('Tills');
  });

  it("serves a manager's login; refuses staff, and a wrong token even beside a manager's session", async () => {
    const m = client();
    expect((await m.post('/api/v1/setup', { code: setupCode, name: 'Maria', password: PASSWORD })).status).toBe(201);
    const asManager = await m.get('/metrics');
    expect(asManager.status).toBe(200);
    expect(asManager.text).toContain('hindsight_camera_state{');
    expect((await m.post('/api/v1/accounts', { name: 'Sam', pin: '482915' })).status).toBe(201);
    const staff = client();
    expect((await staff.post('/api/v1/login', { name: 'sam', secret: '482915' })).status).toBe(200);
    const asStaff = await staff.get('/metrics');
    expect(asStaff.status).toBe(403);
    expect(asStaff.body).toMatchObject({ error: 'metrics_forbidden' });
    // a wrong token is refused even beside a manager's session
    const both = await m.request('GET', '/metrics', undefined, { headers: { authorization: 'Bearer not-the-token-at-all-not-the-token-at-all' } });
    expect(both.status).toBe(401);
  });

  it("times the incident's steps and the face pipeline's stages, and counts incidents by state with their attempts", async () => {
    const sam = client();
    expect((await sam.post('/api/v1/login', { name: 'sam', secret: '482915' })).status).toBe(200);
    const form = { request_key: 'form-metrics-0001', minutes_ago: 0, zone: 'Tills', reason: 'theft', justification: 'took two bottles of gin past the tills' };
    const logged = await sam.post('/api/v1/incidents', form);
    expect(logged.status, logged.text).toBe(201);
    // not enrolled: the faces are found, then sealing fails and the incident waits for enrollment
    const incident = await waitFor(() => queryStateDb<{ state: string; attempts: number }>(dir, "SELECT state, attempts FROM incidents WHERE state = 'failed'")[0], { timeoutMs: 120_000, what: 'the incident analysed and failed to seal' });
    const s = await samples();
    expect(sampleValue(s, 'hindsight_incident_step_seconds_count', { step: 'extracting', outcome: 'done' })).toBe(1);
    expect(sampleValue(s, 'hindsight_incident_step_seconds_count', { step: 'analysing', outcome: 'failed' })).toBe(1);
    expect(sampleValue(s, 'hindsight_incident_step_seconds_sum', { step: 'extracting', outcome: 'done' })).toBeGreaterThan(0);
    expect(sampleValue(s, 'hindsight_pipeline_analysis_seconds_count')).toBe(1);
    for (const stage of ['decode_wait', 'detect', 'landmarks', 'align_quality', 'embed', 'track', 'write']) {
      expect(sampleValue(s, 'hindsight_pipeline_stage_seconds_count', { stage }), stage).toBe(1);
    }
    expect(sampleValue(s, 'hindsight_pipeline_stage_seconds_sum', { stage: 'detect' })).toBeGreaterThan(0);
    expect(sampleValue(s, 'hindsight_incidents', { state: 'failed' })).toBe(1);
    expect(sampleValue(s, 'hindsight_incidents', { state: 'logged' })).toBe(0);
    expect(sampleValue(s, 'hindsight_incident_attempts', { state: 'failed' })).toBe(incident.attempts);
    // the incident's footage is locked: the scrape says how much, as the database has it
    const locked = queryStateDb<{ bytes: number | null }>(dir, `SELECT SUM(bytes) AS bytes FROM segments s WHERE ${SEGMENT_IS_LOCKED}`)[0]!.bytes ?? 0;
    expect(locked).toBeGreaterThan(0);
    expect(sampleValue(s, 'hindsight_camera_locked_bytes', { camera: CAMERA })).toBe(locked);
    expect(sampleValue(s, 'hindsight_buffer_locked_bytes')).toBe(locked);
    // nothing deleted yet: the receipts in the audit log agree
    const receipts = queryStateDb<{ n: number }>(dir, "SELECT count(*) AS n FROM audit WHERE action = 'buffer.deleted'")[0]!.n;
    expect(sampleValue(s, 'hindsight_buffer_deletions_24h')).toBe(receipts);
  }, 150_000);
});

describe('box metrics: a scrape token file that cannot be used', () => {
  const dir = tempDir();
  let daemon: TestProcess;

  afterAll(async () => {
    await daemon?.stop();
  });

  it('says so in the log at start (with the fix), and refuses the token while a login still works', async () => {
    const t = tokenFile(dir, 0o644);
    const config = writeConfig(dir, { web: { ...WEB_TEST_CONFIG.web, metrics_token_file: t.file } });
    daemon = startDaemon(config);
    const line = await daemon.waitForLine(/GET \/metrics takes no scrape token until this is fixed: ([^"]*)/, 30_000);
    expect(line[1]).toContain('can be read by other users (mode 644)');
    expect(line[1]).toContain(`chmod 600 ${t.file}`);
    const { port, ca } = await webOf(daemon, path.join(dir, 'state'));
    const answer = await new WebClient(port, ca).request('GET', '/metrics', undefined, { headers: { authorization: `Bearer ${t.token}` } });
    expect(answer.status).toBe(401);
    expect(String(answer.body.message)).toMatch(/^the scrape token is not usable: .*can be read by other users/);
  }, 60_000);
});
