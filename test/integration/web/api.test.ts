import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startDaemon, writeConfig } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/paths.js';
import type { TestProcess } from '../../helpers/process.js';
import { queryStateDb } from '../../helpers/recorder.js';
import { startCamera } from '../../helpers/rtsp-camera.js';
import { waitFor } from '../../helpers/wait.js';
import { WEB_TEST_CONFIG, WebClient, webOf } from '../../helpers/web.js';

const PASSWORD = 'correct horse battery staple';

interface DocRoute {
  method: string;
  url: string;
  access: string;
}

describe('web app: accounts, sessions and the rules every route keeps', () => {
  const dir = tempDir();
  const stateDir = path.join(dir, 'state');
  let config: string;
  let daemon: TestProcess;
  let port: number;
  let ca: string;
  let setupCode: string | undefined;
  let camera: Awaited<ReturnType<typeof startCamera>>;
  const client = (): WebClient => new WebClient(port, ca);
  const manager = (): WebClient => managerClient;
  let managerClient: WebClient;

  beforeAll(async () => {
    config = writeConfig(dir, { ...WEB_TEST_CONFIG, cameras: { networks: ['127.0.0.0/8'] }, recorder: { segment_seconds: 2 } });
    camera = await startCamera({ width: 320, height: 240, fps: 5, gop: 5 });
    const add = await runCli(['camera', 'add', '--config', config, '--id', 'till-2', '--name', 'Till 2', '--zone', 'Tills', '--url', camera.url]);
    expect(add.code, add.stderr).toBe(0);
    daemon = startDaemon(config);
    ({ port, ca, setupCode } = await webOf(daemon, stateDir));
  }, 60_000);
  afterAll(async () => {
    await daemon?.stop();
    await camera?.stop();
  });

  it('serves HTTPS only, with security headers and a CSP without inline scripts', async () => {
    const page = await client().get('/');
    expect(page.status).toBe(200);
    expect(page.text).toContain('<script type="module" src="/assets/app.js">');
    expect(page.text, 'no inline script or handler').not.toMatch(/<script>|\son[a-z]+=/);
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    for (const h of ['strict-transport-security', 'x-content-type-options', 'x-frame-options', 'referrer-policy']) expect(page.headers[h], h).toBeTruthy();
    const api = await client().get('/api/v1/session');
    expect(api.headers['cache-control']).toBe('no-store');
    // no directory listing, no file outside the app's own
    for (const url of ['/assets/', '/assets/..%2f..%2fpackage.json', '/assets/%2e%2e/index.html', '/daemon/web/app.js']) expect((await client().get(url)).status, url).toBe(404);
    // plain HTTP on the same port gets no HTTP answer
    const plain = await new Promise<string>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
      let got = '';
      s.on('data', (d) => (got += d.toString('latin1')));
      s.on('close', () => resolve(got));
      s.on('error', () => resolve(got));
      setTimeout(() => s.destroy(), 3000);
    });
    expect(plain).not.toMatch(/^HTTP\/1\.1 200/);
  });

  it('makes the first manager from the one-time setup code (printed by the daemon and shown by the CLI), once', async () => {
    expect(setupCode, 'the daemon printed a setup code').toMatch(/^\d{4}-\d{4}-\d{4}$/);
    const shown = await runCli(['web', 'setup-code', '--config', config]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout.trim()).toBe(setupCode);
    const c = client();
    expect((await c.get('/api/v1/session')).body).toMatchObject({ setup_needed: true, account: null });
    const wrong = await c.post('/api/v1/setup', { code: '0000-0000-0000', name: 'Maria', password: PASSWORD });
    expect(wrong.status).toBe(401);
    const weak = await c.post('/api/v1/setup', { code: setupCode, name: 'Maria', password: 'short' });
    expect(weak.status).toBe(400);
    expect(weak.body.message).toMatch(/at least 12 characters/);
    const made = await c.post('/api/v1/setup', { code: setupCode, name: 'Maria', password: PASSWORD });
    expect(made.status, made.text).toBe(201);
    const cookie = String(made.headers['set-cookie']);
    expect(cookie).toMatch(/^__Host-hs_session=[A-Za-z0-9_-]{40,};/);
    for (const flag of ['Secure', 'HttpOnly', 'SameSite=Strict', 'Path=/']) expect(cookie).toContain(flag);
    expect(cookie).not.toMatch(/Domain=/i);
    managerClient = c;
    expect((await c.get('/api/v1/session')).body).toMatchObject({ setup_needed: false, account: { name: 'Maria', role: 'manager' } });
    const again = await client().post('/api/v1/setup', { code: setupCode, name: 'Eve', password: PASSWORD });
    expect(again.status).toBe(409);
    const used = await runCli(['web', 'setup-code', '--config', config]);
    expect(used.code).toBe(1);
    expect(used.stderr).toMatch(/already has a manager/);
    // the manager's password is stored as a scrypt hash, never as given
    const stored = queryStateDb<{ secret_hash: string }>(dir, 'SELECT secret_hash FROM web_accounts');
    expect(stored[0]!.secret_hash).toMatch(/^scrypt\$131072\$8\$1\$/);
    expect(JSON.stringify(stored)).not.toContain(PASSWORD);
  });

  it('walks every route: 401 without a session, 403 for staff where a manager is needed; every route declares its access', async () => {
    const m = manager();
    expect((await m.post('/api/v1/accounts', { name: 'Sam', pin: '482915' })).status).toBe(201);
    const staff = client();
    expect((await staff.post('/api/v1/login', { name: 'sam', secret: '482915' })).status).toBe(200);
    const doc = await client().get('/api/docs');
    const routes: DocRoute[] = [];
    for (const [url, methods] of Object.entries(doc.body.paths as Record<string, Record<string, { 'x-access'?: string }>>)) {
      for (const [method, op] of Object.entries(methods)) routes.push({ method: method.toUpperCase(), url: url.replace(/\{[^}]+\}/g, 'x1'), access: String(op['x-access']) });
    }
    expect(routes.length).toBeGreaterThanOrEqual(12);
    for (const r of routes) expect(['public', 'staff', 'manager', 'button', 'metrics'], `${r.method} ${r.url}`).toContain(r.access);
    for (const r of routes.filter((x) => x.access !== 'public')) {
      const anon = await client().request(r.method, r.url, r.method === 'GET' ? undefined : {});
      expect(anon.status, `${r.method} ${r.url} without a session`).toBe(401);
      // the metrics: a manager's (or the scrape token's)
      if (r.access === 'manager' || r.access === 'metrics') {
        const asStaff = await staff.request(r.method, r.url, r.method === 'GET' ? undefined : {});
        expect(asStaff.status, `${r.method} ${r.url} as staff`).toBe(403);
      }
    }
  });

  it('refuses unknown fields, wrong types and oversized bodies; state changes need the page origin and the session CSRF token', async () => {
    const m = manager();
    const extra = await m.post('/api/v1/accounts', { name: 'Lee', pin: '112233', role: 'manager' });
    expect(extra.status).toBe(400);
    expect(extra.body.message).toMatch(/role is not a known field/);
    expect((await m.post('/api/v1/accounts', { name: 'Lee', pin: 112233 })).status).toBe(400);
    expect((await m.post('/api/v1/accounts', { name: ['Lee'], pin: '112233' })).status).toBe(400);
    expect((await m.post('/api/v1/accounts', { name: 'Lee', pin: '12ab56' })).status).toBe(400);
    const big = await m.post('/api/v1/accounts', undefined, { raw: JSON.stringify({ name: 'x'.repeat(40_000), pin: '112233' }) });
    expect(big.status).toBe(413);
    expect((await m.post('/api/v1/accounts', undefined, { raw: '{"name": "Lee", ' })).status).toBe(400);
    expect((await m.post('/api/v1/accounts', { name: 'Lee', pin: '112233' }, { origin: null })).status).toBe(403);
    expect((await m.post('/api/v1/accounts', { name: 'Lee', pin: '112233' }, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await m.post('/api/v1/accounts', { name: 'Lee', pin: '112233' }, { csrf: null })).status).toBe(403);
    expect((await m.post('/api/v1/accounts', { name: 'Lee', pin: '112233' }, { csrf: 'x'.repeat(43) })).status).toBe(403);
    // a login from another page is refused too (login CSRF)
    expect((await client().post('/api/v1/login', { name: 'Maria', secret: PASSWORD }, { origin: 'https://evil.example' })).status).toBe(403);
    // the old CSRF token of a session that logged in again is stale
    const s = client();
    await s.post('/api/v1/login', { name: 'Maria', secret: PASSWORD });
    const stale = s.csrf;
    await s.post('/api/v1/login', { name: 'Maria', secret: PASSWORD });
    expect((await s.post('/api/v1/accounts', { name: 'Lee', pin: '112233' }, { csrf: stale })).status).toBe(403);
    expect(queryStateDb(dir, "SELECT name FROM web_accounts WHERE name = 'Lee'"), 'nothing was made by the refused requests').toEqual([]);
  });

  it('gives a new session id at login (a planted one is never promoted) and ends it on the box at logout', async () => {
    const c = client();
    c.cookie = '__Host-hs_session=planted-by-an-attacker-0000000000000000000000';
    await c.post('/api/v1/login', { name: 'Maria', secret: PASSWORD });
    expect(c.cookie).not.toContain('planted');
    const token = c.cookie!;
    expect((await c.post('/api/v1/logout')).status).toBe(200);
    const replay = client();
    replay.cookie = token;
    expect((await replay.get('/api/v1/accounts')).status, 'the session is revoked on the box').toBe(401);
  });

  it('logs one incident per filled-in form for staff, shows staff only their own, and audits the logged-in account', async () => {
    const sam = client();
    await sam.post('/api/v1/login', { name: 'Sam', secret: '482915' });
    await waitFor(() => queryStateDb(dir, 'SELECT id FROM segments').length > 0, { timeoutMs: 30_000, what: 'the camera recording' });
    const form = { request_key: 'form-0001-abcdef', minutes_ago: 0, zone: 'Tills', reason: 'theft', justification: 'took two bottles of gin past the tills' };
    const [a, b] = await Promise.all([sam.post('/api/v1/incidents', form), sam.post('/api/v1/incidents', form)]);
    expect(a.status, a.text).toBe(201);
    expect(b.status, b.text).toBe(201);
    const id = (a.body.incident as { id: string }).id;
    expect((b.body.incident as { id: string }).id, 'a double tap gives the same incident').toBe(id);
    expect((a.body.incident as { cameras: { name: string }[] }).cameras.map((c) => c.name)).toEqual(['Till 2']);
    expect(JSON.stringify(a.body), 'staff see no files or hashes').not.toMatch(/sha256|\.ts"|rtsp:/);
    expect(queryStateDb(dir, 'SELECT id FROM incidents')).toHaveLength(1);
    const samId = queryStateDb<{ id: string }>(dir, "SELECT id FROM web_accounts WHERE name = 'Sam'")[0]!.id;
    const audit = queryStateDb<{ actor_type: string; actor_id: string; actor_role: string }>(dir, `SELECT actor_type, actor_id, actor_role FROM audit WHERE action = 'incident.logged'`);
    expect(audit, 'the audit names the logged-in account').toEqual([{ actor_type: 'user', actor_id: samId, actor_role: 'staff' }]);

    // another staff member sees none of it
    await manager().post('/api/v1/accounts', { name: 'Kim', pin: '907132' });
    const kim = client();
    await kim.post('/api/v1/login', { name: 'Kim', secret: '907132' });
    expect((await kim.get('/api/v1/incidents')).body.incidents).toEqual([]);
    expect((await kim.get(`/api/v1/incidents/${id}`)).status).toBe(404);
    expect((await sam.get('/api/v1/incidents')).body.incidents).toHaveLength(1);
    // staff cannot cancel; a manager can
    expect((await sam.post(`/api/v1/incidents/${id}/cancel`, { justification: 'logged by mistake' })).status).toBe(403);
    const cancelled = await manager().post(`/api/v1/incidents/${id}/cancel`, { justification: 'logged by mistake, wrong till' });
    expect(cancelled.status, cancelled.text).toBe(200);
    expect((cancelled.body.incident as { state: string }).state).toBe('cancelled');
    // a justification too short is refused in plain words
    const short = await sam.post('/api/v1/incidents', { ...form, request_key: 'form-0002-abcdef', justification: 'gin' });
    expect(short.status).toBe(400);
    expect(short.body.message).toMatch(/at least 10 characters/);
  });

  it('lets a manager add, try and change cameras; their credentials appear in no answer and no log line; unsafe addresses are refused in plain words', async () => {
    const secret = 'S3cret-cam-pass';
    const locked = await startCamera({ width: 320, height: 240, fps: 5, gop: 5, user: 'admin', password: secret });
    try {
      const m = manager();
      const answers: string[] = [];
      const call = async (method: string, url: string, body?: unknown): Promise<Awaited<ReturnType<WebClient['request']>>> => {
        const a = await m.request(method, url, body);
        answers.push(a.text);
        return a;
      };
      const tried = await call('POST', '/api/v1/cameras-test', { url: locked.url, username: 'admin', password: secret });
      expect(tried.status, tried.text).toBe(200);
      expect(tried.body).toMatchObject({ ok: true, stream: { codec: 'h264', width: 320, height: 240 } });
      const wrongPassword = await call('POST', '/api/v1/cameras-test', { url: locked.url, username: 'admin', password: 'nope' });
      expect(wrongPassword.body).toMatchObject({ ok: false });
      expect(JSON.stringify(wrongPassword.body.problem)).toMatch(/password|credentials|refused|authori/i);
      const added = await call('POST', '/api/v1/cameras', { id: 'back-door', name: 'Back door', url: locked.url, zone: 'Stock room', username: 'admin', password: secret });
      expect(added.status, added.text).toBe(201);
      expect(added.body.camera).toMatchObject({ id: 'back-door', has_credentials: true });
      // credentials inside the address are taken out of it too
      const inUrl = await call('POST', '/api/v1/cameras', { id: 'side-door', name: 'Side door', url: locked.url.replace('rtsp://', `rtsp://admin:${secret}@`) });
      expect([201, 400, 409], inUrl.text).toContain(inUrl.status);
      await waitFor(async () => ((await call('GET', '/api/v1/cameras')).body.cameras as { id: string; state: string }[]).find((c) => c.id === 'back-door')?.state === 'recording', {
        timeoutMs: 30_000,
        what: 'the camera with credentials recording',
      });
      const list = await call('GET', '/api/v1/cameras');
      expect((list.body.cameras as { id: string }[]).map((c) => c.id)).toContain('till-2');
      expect((await call('POST', '/api/v1/cameras/back-door', { enabled: false })).body.camera).toMatchObject({ enabled: false });
      const snap = await m.get('/api/v1/cameras/till-2/snapshot');
      expect(snap.status).toBe(200);
      expect(snap.headers['content-type']).toBe('image/jpeg');
      for (const a of answers) expect(a, 'no answer carries the camera password').not.toContain(secret);
      expect(daemon.lines.filter((l) => l.includes(secret)), 'no log line carries it').toEqual([]);
      expect(JSON.stringify(queryStateDb(dir, 'SELECT * FROM audit')), 'nor the audit').not.toContain(secret);

      for (const url of ['rtsp://169.254.169.254/latest', 'file:///etc/passwd', 'http://127.0.0.1:80/', 'rtsp://10.0.0.5/stream', `rtsp://127.0.0.1:554/${'x'.repeat(3000)}`]) {
        const refused = await m.post('/api/v1/cameras', { id: 'evil', name: 'Evil', url });
        expect([400, 409], `${url.slice(0, 40)}: ${refused.text}`).toContain(refused.status);
        expect(String(refused.body.message).length, 'a reason in words').toBeGreaterThan(10);
      }
      expect(queryStateDb(dir, "SELECT id FROM cameras WHERE id = 'evil'")).toEqual([]);
    } finally {
      await locked.stop();
    }
  }, 90_000);

  it('a hardware button press (one request with its token) holds the moment until staff complete it', async () => {
    const made = await manager().post('/api/v1/buttons', { name: 'Till button', zone: 'Tills' });
    expect(made.status, made.text).toBe(201);
    const token = String(made.body.token);
    expect(String(made.body.request)).toContain(`Authorization: Bearer ${token}`);
    expect(JSON.stringify((await manager().get('/api/v1/buttons')).body), 'the token is shown once').not.toContain(token);
    // the button sends no cookie, no Origin and no CSRF token: its token is its credential
    const device = client();
    const press = await device.post('/api/v1/button/press', undefined, { origin: null, csrf: null, headers: { authorization: `Bearer ${token}` } });
    expect(press.status, press.text).toBe(201);
    const pressId = (press.body.press as { id: string }).id;
    expect((await device.post('/api/v1/button/press', undefined, { origin: null, headers: { authorization: 'Bearer not-a-token' } })).status).toBe(401);
    expect((await device.post('/api/v1/button/press', undefined, { origin: null })).status).toBe(401);
    expect(queryStateDb(dir, `SELECT camera_id FROM evidence_locks WHERE holder = 'press-${pressId}' AND released_utc_ms IS NULL`), 'held at once').toEqual([{ camera_id: 'till-2' }]);

    const sam = client();
    await sam.post('/api/v1/login', { name: 'Sam', secret: '482915' });
    const pending = await sam.get('/api/v1/presses');
    expect(pending.body.presses).toMatchObject([{ id: pressId, button: 'Till button', cameras: ['Till 2'] }]);
    const done = await sam.post(`/api/v1/presses/${pressId}/complete`, { reason: 'violence', justification: 'a customer pushed a member of staff at till 2' });
    expect(done.status, done.text).toBe(201);
    expect(done.body.incident).toMatchObject({ reason: 'violence', cameras: [{ name: 'Till 2' }] });
    expect((await sam.get('/api/v1/presses')).body.presses).toEqual([]);
    expect((await sam.post(`/api/v1/presses/${pressId}/complete`, { reason: 'violence', justification: 'a customer pushed a member of staff at till 2' })).status).toBe(409);
    expect(queryStateDb(dir, `SELECT camera_id FROM evidence_locks WHERE holder = 'press-${pressId}' AND released_utc_ms IS NULL`), 'the incident holds it now').toEqual([]);
  });

  it('throttles guessing: 429 after 5 wrong PINs for a name, a lockout that survives a daemon restart', async () => {
    await manager().post('/api/v1/accounts', { name: 'Jo', pin: '555123' });
    const guesser = client();
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await guesser.post('/api/v1/login', { name: 'Jo', secret: String(100000 + i) })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
    const locked = await guesser.post('/api/v1/login', { name: 'Jo', secret: '555123' });
    expect(locked.status, 'even the right PIN waits out the lock').toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(60);
    await daemon.stop();
    daemon = startDaemon(config);
    ({ port } = await webOf(daemon, stateDir));
    expect((await client().post('/api/v1/login', { name: 'Jo', secret: '555123' })).status, 'locked after a restart').toBe(429);
    // others can still log in, and the manager's session outlived the restart
    expect((await client().post('/api/v1/login', { name: 'Sam', secret: '482915' })).status).toBe(200);
    managerClient = Object.assign(new WebClient(port, ca), { cookie: managerClient.cookie, csrf: managerClient.csrf });
    expect((await manager().get('/api/v1/accounts')).status).toBe(200);
  }, 60_000);

  it('a manager sets a forgotten PIN (the lock lifted, old sessions ended) and turns a staff account off and on', async () => {
    const m = manager();
    const ids = new Map(((await m.get('/api/v1/accounts')).body.accounts as { id: string; name: string }[]).map((a) => [a.name, a.id]));
    // Jo is locked out from the guessing above
    expect((await client().post('/api/v1/login', { name: 'Jo', secret: '555123' })).status).toBe(429);
    expect((await m.post(`/api/v1/accounts/${ids.get('Jo')}`, { pin: '12ab' })).status).toBe(400);
    expect((await m.post(`/api/v1/accounts/${ids.get('Jo')}`, { pin: '246810' })).status).toBe(200);
    expect((await client().post('/api/v1/login', { name: 'Jo', secret: '555123' })).status, 'the old PIN is gone').toBe(401);
    expect((await client().post('/api/v1/login', { name: 'Jo', secret: '246810' })).status, 'the new one works at once').toBe(200);
    const sam = client();
    await sam.post('/api/v1/login', { name: 'Sam', secret: '482915' });
    expect((await m.post(`/api/v1/accounts/${ids.get('Sam')}`, { disabled: true })).body.account).toMatchObject({ disabled: true });
    expect((await sam.get('/api/v1/incidents')).status, 'a turned-off account is logged out at once').toBe(401);
    expect((await client().post('/api/v1/login', { name: 'Sam', secret: '482915' })).status).toBe(401);
    await m.post(`/api/v1/accounts/${ids.get('Sam')}`, { disabled: false });
    expect((await client().post('/api/v1/login', { name: 'Sam', secret: '482915' })).status).toBe(200);
    // a manager account is not changed from a browser
    expect((await m.post(`/api/v1/accounts/${ids.get('Maria')}`, { disabled: true })).status).toBe(403);
    const actions = queryStateDb<{ action: string }>(dir, "SELECT action FROM audit WHERE action IN ('web.pin_reset', 'web.account_disabled', 'web.account_enabled') ORDER BY seq").map((r) => r.action);
    expect(actions).toEqual(['web.pin_reset', 'web.account_disabled', 'web.account_enabled']);
  });

  it("a manager changes settings within the force's caps (applied at once, audited by account); staff cannot; bad values are refused in words", async () => {
    const m = manager();
    const staff = client();
    expect((await staff.post('/api/v1/login', { name: 'Sam', secret: '482915' })).status).toBe(200);
    expect((await staff.request('PUT', '/api/v1/settings', { values: { 'buffer.hours': 1 } })).status).toBe(403);
    const listed = (await m.get('/api/v1/settings')).body.settings as { key: string; value: number; max: number; max_set_by: string }[];
    expect(listed.map((x) => x.key)).toEqual(['buffer.hours', 'incidents.window_before_s', 'incidents.window_after_s', 'incidents.press_expiry_min', 'incidents.per_user_per_hour']);
    expect(listed.find((x) => x.key === 'incidents.window_before_s')).toMatchObject({ max: 600, max_set_by: 'force' });
    const bad = async (values: unknown, why: RegExp): Promise<void> => {
      const r = await m.request('PUT', '/api/v1/settings', { values });
      expect(r.status, r.text).toBe(400);
      expect(r.body.message).toMatch(why);
    };
    await bad({ 'recorder.segment_seconds': 1 }, /recorder\.segment_seconds is not a known field/);
    await bad({ 'buffer.hours': '12' }, /must be a number|must be null/);
    await bad({}, /at least 1|fewer than 1|must NOT have fewer/);
    await bad({ 'incidents.window_before_s': 400, 'incidents.window_after_s': 300 }, /together may be at most 600 seconds \(a limit set by the police force\)/);
    await bad({ 'buffer.hours': 1000 }, /Keep recordings for may be at most 720 hours/);
    const ok = await m.request('PUT', '/api/v1/settings', { values: { 'incidents.window_after_s': 45 } });
    expect(ok.status, ok.text).toBe(200);
    expect((ok.body.settings as { key: string; value: number; changed: boolean }[]).find((x) => x.key === 'incidents.window_after_s')).toMatchObject({ value: 45, changed: true });
    const rows = queryStateDb<{ actor_type: string; actor_role: string; detail: string }>(dir, "SELECT actor_type, actor_role, detail FROM audit WHERE action = 'settings.changed'");
    expect(rows.map((r) => ({ ...r, detail: JSON.parse(r.detail) as unknown }))).toEqual([{ actor_type: 'user', actor_role: 'manager', detail: { from: 30, to: 45 } }]);
    // the box's status: the link to the force, the outbox and the models, in the same answer
    const st = await m.get('/api/v1/status');
    expect(st.body).toMatchObject({ force_link: { state: 'not_enrolled' }, outbox: { waiting: 0 }, models: { available: expect.any(Boolean) } });
    expect(JSON.stringify(st.body)).not.toMatch(/\/models\/|\.onnx/);
  });
});
