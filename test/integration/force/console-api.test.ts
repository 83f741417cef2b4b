import { createHash } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebRepo } from '../../../daemon/src/db/repos/web.js';
import { openForceDb } from '../../../daemon/src/force/database.js';
import { ConsoleAccounts } from '../../../daemon/src/force/console/accounts.js';
import { buildConsoleServer } from '../../../daemon/src/force/console/server.js';
import type { ConsoleRoute } from '../../../daemon/src/force/console/route.js';
import { webCertificate } from '../../../daemon/src/https/tls.js';
import { silentLogger } from '../../../daemon/src/log/logger.js';
import { systemClock } from '../../../daemon/src/util/clock.js';
import { runCommand } from '../../../daemon/src/util/child.js';
import { query } from '../../helpers/evidence.js';
import { auditRows, consoleStore, FORCE_PROGRAM, startConsole, type ConsoleStore, type RunningConsole } from '../../helpers/force-console.js';
import { tempDir } from '../../helpers/paths.js';
import { WebClient } from '../../helpers/web.js';

const ADMIN_PASSWORD = 'correct horse battery staple';
const PASSWORD = 'four unrelated words here';
const CRIME_REF = 'CR/2026/0417';

interface DocRoute {
  method: string;
  url: string;
  access: string;
}

const consoleCli = async (args: string[]) => {
  const r = await runCommand(process.execPath, [FORCE_PROGRAM, 'console', ...args], { timeoutMs: 60_000 });
  return { code: r.code, stdout: r.stdout.toString('utf8'), stderr: r.stderr };
};

describe("the force's reviewers' console: accounts, sessions, the rules every route keeps, and the workbench behind it", () => {
  const dir = tempDir('hs-console-api-');
  let store: ConsoleStore;
  let running: RunningConsole;
  const client = (): WebClient => new WebClient(running.port, running.ca);
  let admin: WebClient;
  let supervisor: WebClient;
  let reviewer1: WebClient;
  let reviewer2: WebClient;
  const ids = new Map<string, string>();

  beforeAll(async () => {
    store = await consoleStore(dir);
    running = await startConsole(store);
  }, 120_000);
  afterAll(async () => {
    await running?.proc.stop();
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
    expect((await client().get('/assets/app.js')).headers['content-type']).toMatch(/^text\/javascript/);
    expect((await client().get('/api/v1/session')).headers['cache-control']).toBe('no-store');
    for (const url of ['/assets/', '/assets/..%2f..%2fpackage.json', '/assets/%2e%2e/index.html', '/daemon/force-web/app.js', '/assets/index.html']) expect((await client().get(url)).status, url).toBe(404);
    // plain HTTP on the same port gets no HTTP answer
    const plain = await new Promise<string>((resolve) => {
      const s = net.connect(running.port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
      let got = '';
      s.on('data', (d) => (got += d.toString('latin1')));
      s.on('close', () => resolve(got));
      s.on('error', () => resolve(got));
      setTimeout(() => s.destroy(), 3000);
    });
    expect(plain).not.toMatch(/^HTTP\/1\.1 200/);
  });

  it('makes the first admin from the one-time setup code (printed by the console and shown by `console setup-code`), once', async () => {
    expect(running.setupCode, 'the console printed a setup code').toMatch(/^\d{4}-\d{4}-\d{4}$/);
    const shown = await consoleCli(['setup-code', '--config', store.config]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout.trim()).toBe(running.setupCode);
    const c = client();
    expect((await c.get('/api/v1/session')).body).toMatchObject({ setup_needed: true, account: null });
    expect((await c.post('/api/v1/setup', { code: '0000-0000-0000', name: 'Ada', password: ADMIN_PASSWORD })).status).toBe(401);
    const weak = await c.post('/api/v1/setup', { code: running.setupCode, name: 'Ada', password: 'short' });
    expect(weak.status).toBe(400);
    expect(weak.body.message).toMatch(/at least 12 characters/);
    const made = await c.post('/api/v1/setup', { code: running.setupCode, name: 'Ada', password: ADMIN_PASSWORD });
    expect(made.status, made.text).toBe(201);
    const cookie = String(made.headers['set-cookie']);
    expect(cookie).toMatch(/^__Host-hs_session=[A-Za-z0-9_-]{40,};/);
    for (const flag of ['Secure', 'HttpOnly', 'SameSite=Strict', 'Path=/']) expect(cookie).toContain(flag);
    expect(cookie).not.toMatch(/Domain=/i);
    admin = c;
    expect((await c.get('/api/v1/session')).body).toMatchObject({ setup_needed: false, account: { name: 'Ada', role: 'admin' } });
    expect((await client().post('/api/v1/setup', { code: running.setupCode, name: 'Eve', password: ADMIN_PASSWORD })).status).toBe(409);
    const used = await consoleCli(['setup-code', '--config', store.config]);
    expect(used.code).toBe(1);
    expect(used.stderr).toMatch(/already has an admin/);
    const stored = query<{ secret_hash: string }>(path.join(store.forceDir, 'force.db'), 'SELECT secret_hash FROM web_accounts');
    expect(stored[0]!.secret_hash).toMatch(/^scrypt\$131072\$8\$1\$/);
    expect(JSON.stringify(stored)).not.toContain(ADMIN_PASSWORD);
  });

  it('an admin adds supervisors and reviewers (passwords of at least 12 characters); nobody else can', async () => {
    for (const [name, role] of [['Sam', 'supervisor'], ['Rita', 'reviewer'], ['Ravi', 'reviewer']] as const) {
      const r = await admin.post('/api/v1/accounts', { name, role, password: PASSWORD });
      expect(r.status, r.text).toBe(201);
      ids.set(name, (r.body.account as { id: string }).id);
    }
    expect((await admin.post('/api/v1/accounts', { name: 'Short', role: 'reviewer', password: 'too short' })).status).toBe(400);
    expect((await admin.post('/api/v1/accounts', { name: 'Boss', role: 'admin', password: PASSWORD })).status, 'no second admin from a browser').toBe(400);
    expect((await admin.post('/api/v1/accounts', { name: 'sam', role: 'reviewer', password: PASSWORD })).status, 'names are unique whatever their case').toBe(409);
    const login = async (name: string): Promise<WebClient> => {
      const c = client();
      const r = await c.post('/api/v1/login', { name, password: PASSWORD });
      expect(r.status, r.text).toBe(200);
      return c;
    };
    [supervisor, reviewer1, reviewer2] = await Promise.all([login('Sam'), login('rita'), login('Ravi')]);
    expect((await reviewer1.get('/api/v1/session')).body).toMatchObject({ account: { name: 'Rita', role: 'reviewer' } });
    expect((await supervisor.post('/api/v1/accounts', { name: 'Lee', role: 'reviewer', password: PASSWORD })).status).toBe(403);
    expect(auditRows(store, 'web.account_created').map((r) => r.detail.role)).toEqual(['admin', 'supervisor', 'reviewer', 'reviewer']);
  });

  it('walks every route: 401 without a session, 403 below the route\'s role; every route declares its access', async () => {
    const doc = await client().get('/api/docs');
    const routes: DocRoute[] = [];
    for (const [url, methods] of Object.entries(doc.body.paths as Record<string, Record<string, { 'x-access'?: string }>>)) {
      for (const [method, op] of Object.entries(methods)) routes.push({ method: method.toUpperCase(), url: url.replace(/\{[^}]+\}/g, 'x1'), access: String(op['x-access']) });
    }
    expect(routes.length).toBeGreaterThanOrEqual(20);
    for (const r of routes) expect(['public', 'reviewer', 'supervisor', 'admin', 'metrics'], `${r.method} ${r.url}`).toContain(r.access);
    // the metrics: an admin's (or the scrape token's)
    const below: Record<string, [WebClient, string][]> = { reviewer: [], supervisor: [[reviewer1, 'a reviewer']], admin: [[reviewer1, 'a reviewer'], [supervisor, 'a supervisor']] };
    below.metrics = below.admin!;
    for (const r of routes.filter((x) => x.access !== 'public')) {
      const anon = await client().request(r.method, r.url, r.method === 'GET' ? undefined : {});
      expect(anon.status, `${r.method} ${r.url} without a session`).toBe(401);
      for (const [c, who] of below[r.access]!) {
        const refused = await c.request(r.method, r.url, r.method === 'GET' ? undefined : {});
        expect(refused.status, `${r.method} ${r.url} as ${who}`).toBe(403);
      }
    }
    const access = (method: string, url: string) => routes.find((r) => r.method === method && r.url === url)?.access;
    expect(access('GET', '/api/v1/triage')).toBe('supervisor');
    expect(access('GET', '/api/v1/cases/x1/report')).toBe('supervisor');
    expect(access('POST', '/api/v1/cases/x1/decisions')).toBe('reviewer');
    expect(access('POST', '/api/v1/accounts')).toBe('admin');
  });

  it('a console with a route that declares no access does not start', async () => {
    const fdb = openForceDb(path.join(dir, 'other-force'));
    try {
      const cert = await webCertificate(path.join(dir, 'other-force'), { cert_file: '', key_file: '' });
      const accounts = new ConsoleAccounts(new WebRepo(fdb.db, systemClock), fdb.audit, systemClock, silentLogger, { idleMs: 60_000, absoluteMs: 3_600_000, accountFailures: 5, ipFailures: 20, lockMs: 60_000 });
      const undeclared = { method: 'GET', url: '/api/v1/sneaky', access: '', summary: 'no access said', handler: () => ({}) } as unknown as ConsoleRoute;
      expect(() => buildConsoleServer({ cert, accounts, log: silentLogger, routes: [undeclared] })).toThrow(/GET \/api\/v1\/sneaky declares no access/);
      const staff = { ...undeclared, access: 'staff' } as unknown as ConsoleRoute;
      expect(() => buildConsoleServer({ cert, accounts, log: silentLogger, routes: [staff] }), 'a box role is no console role').toThrow(/declares no access/);
    } finally {
      fdb.close();
    }
  });

  it('refuses unknown fields, wrong types and oversized bodies; state changes need the page origin and the session CSRF token', async () => {
    const add = (body: unknown, options?: Parameters<WebClient['post']>[2]) => admin.post('/api/v1/accounts', body, options);
    const extra = await add({ name: 'Lee', role: 'reviewer', password: PASSWORD, admin: true });
    expect(extra.status).toBe(400);
    expect(extra.body.message).toMatch(/admin is not a known field/);
    expect((await add({ name: 'Lee', role: 'reviewer', password: 123456789012345 })).status).toBe(400);
    expect((await add({ name: ['Lee'], role: 'reviewer', password: PASSWORD })).status).toBe(400);
    expect((await add({ name: 'Lee', role: 'superuser', password: PASSWORD })).status).toBe(400);
    expect((await add({ name: 'x'.repeat(65), role: 'reviewer', password: PASSWORD })).status).toBe(400);
    expect((await add(undefined, { raw: JSON.stringify({ name: 'Lee', role: 'reviewer', password: 'x'.repeat(40_000) }) })).status).toBe(413);
    expect((await add(undefined, { raw: '{"name": "Lee", ' })).status).toBe(400);
    expect((await add({ name: 'Lee', role: 'reviewer', password: PASSWORD }, { origin: null })).status).toBe(403);
    expect((await add({ name: 'Lee', role: 'reviewer', password: PASSWORD }, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await add({ name: 'Lee', role: 'reviewer', password: PASSWORD }, { csrf: null })).status).toBe(403);
    expect((await add({ name: 'Lee', role: 'reviewer', password: PASSWORD }, { csrf: 'x'.repeat(43) })).status).toBe(403);
    // the workbench's routes keep the same rules
    const accept = { crime_ref: CRIME_REF, necessity: 'theft of razor blades, repeat offender', subjects: ['s0'] };
    expect((await supervisor.post(`/api/v1/triage/${store.incidents.till}/accept`, { ...accept, subjects: 's0' })).status).toBe(400);
    expect((await supervisor.post(`/api/v1/triage/${store.incidents.till}/accept`, { ...accept, everyone: true })).status).toBe(400);
    expect((await supervisor.post(`/api/v1/triage/${store.incidents.till}/accept`, accept, { csrf: null })).status).toBe(403);
    expect((await supervisor.post(`/api/v1/triage/${store.incidents.till}/accept`, accept, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await reviewer1.get(`/api/v1/triage/${store.incidents.till}/images/..%2f..%2fforce.db`)).status).toBe(403);
    expect((await supervisor.get(`/api/v1/triage/${store.incidents.till}/images/..%2f..%2fforce.db`)).status).toBe(400);
    // a login from another page is refused too (login CSRF)
    expect((await client().post('/api/v1/login', { name: 'Ada', password: ADMIN_PASSWORD }, { origin: 'https://evil.example' })).status).toBe(403);
    // the old CSRF token of a session that logged in again is stale
    const s = client();
    await s.post('/api/v1/login', { name: 'Ada', password: ADMIN_PASSWORD });
    const stale = s.csrf;
    await s.post('/api/v1/login', { name: 'Ada', password: ADMIN_PASSWORD });
    expect((await s.post('/api/v1/accounts', { name: 'Lee', role: 'reviewer', password: PASSWORD }, { csrf: stale })).status).toBe(403);
    expect(query(path.join(store.forceDir, 'force.db'), "SELECT name FROM web_accounts WHERE name = 'Lee'"), 'nothing was made by the refused requests').toEqual([]);
    expect(auditRows(store, 'triage.accepted'), 'nor accepted').toEqual([]);
  });

  it('gives a new session id at login (a planted one is never promoted) and ends it on the server at logout', async () => {
    const c = client();
    c.cookie = '__Host-hs_session=planted-by-an-attacker-0000000000000000000000';
    await c.post('/api/v1/login', { name: 'Ada', password: ADMIN_PASSWORD });
    expect(c.cookie).not.toContain('planted');
    const token = c.cookie!;
    expect((await c.post('/api/v1/logout')).status).toBe(200);
    const replay = client();
    replay.cookie = token;
    expect((await replay.get('/api/v1/accounts')).status, 'the session is revoked on the server').toBe(401);
  });

  it('a supervisor triages: the queue shows no face; opening and every look at a face is audited; a reject deletes the evidence', async () => {
    const queue = await supervisor.get('/api/v1/triage');
    expect(queue.status).toBe(200);
    expect((queue.body.incidents as { incident: string; store: string; subjects: number }[]).map((i) => [i.incident, i.store, i.subjects])).toEqual([
      ['inc-till', 'High Street', 2],
      ['inc-door', 'Market Square', 1],
      ['inc-aisle', 'Station Road', 1],
    ]);
    expect(JSON.stringify(queue.body), 'no face, no file in the queue').not.toMatch(/crop|images|\.jpg/);
    const opened = await supervisor.get(`/api/v1/triage/${store.incidents.till}`);
    expect(opened.status, opened.text).toBe(200);
    const incident = opened.body.incident as { state: string; context: string[]; subjects: { id: string; searchable: boolean; crops: string[] }[] };
    expect(incident.state).toBe('untriaged');
    expect(incident.subjects.map((s) => [s.id, s.searchable, s.crops.length])).toEqual([
      ['s0', true, 2],
      ['s1', true, 2],
    ]);
    expect(incident.context).toHaveLength(1);
    expect(JSON.stringify(opened.body), 'no server path in an answer').not.toContain(store.forceDir);
    expect(auditRows(store, 'triage.opened').at(-1)).toMatchObject({ actor_type: 'user', actor_id: ids.get('Sam'), actor_role: 'supervisor' });
    const crop = await supervisor.get(incident.subjects[0]!.crops[0]!);
    expect(crop.status).toBe(200);
    expect(crop.headers['content-type']).toBe('image/jpeg');
    expect(crop.headers['cache-control']).toBe('no-store');
    expect(auditRows(store, 'face.viewed').at(-1)).toMatchObject({ actor_id: ids.get('Sam'), object_ids: ['inc-till', store.incidents.till, 's0'], detail: { crime_ref: null, kind: 'crop' }, justification: expect.stringMatching(/triage/) });
    expect((await supervisor.get(`/api/v1/triage/${store.incidents.till}/images/manifest.jpg`)).status, 'only crops and context frames are served').toBe(404);
    // reviewers see nothing of an incident before it is accepted
    expect((await reviewer1.get(`/api/v1/cases/${store.incidents.till}`)).status).toBe(404);
    expect((await reviewer1.get(`/api/v1/cases/${store.incidents.till}/images/crop_s0_0.jpg`)).status).toBe(404);

    expect((await supervisor.post(`/api/v1/triage/${store.incidents.door}/reject`, { reason: 'no' })).status).toBe(400);
    const rejected = await supervisor.post(`/api/v1/triage/${store.incidents.door}/reject`, { reason: 'no offence took place here' });
    expect(rejected.status, rejected.text).toBe(200);
    expect(auditRows(store, 'evidence.deleted').at(-1)).toMatchObject({ actor_id: ids.get('Sam'), justification: 'no offence took place here', detail: { why: 'rejected' } });
    expect((await supervisor.get(`/api/v1/triage/${store.incidents.door}`)).status, 'its evidence is gone').toBe(409);
    expect(query(path.join(store.forceDir, 'force.db'), 'SELECT 1 FROM files WHERE envelope_id = ?', store.incidents.door)).toEqual([]);

    expect((await supervisor.post(`/api/v1/triage/${store.incidents.till}/accept`, { crime_ref: 'CR/1; DROP TABLE', necessity: 'theft of razor blades, repeat offender', subjects: ['s0'] })).status).toBe(400);
    expect((await supervisor.post(`/api/v1/triage/${store.incidents.till}/accept`, { crime_ref: CRIME_REF, necessity: 'because', subjects: ['s0'] })).status).toBe(400);
    expect((await supervisor.post(`/api/v1/triage/${store.incidents.till}/accept`, { crime_ref: CRIME_REF, necessity: 'theft of razor blades, repeat offender', subjects: ['s9'] })).status).toBe(400);
    const accepted = await supervisor.post(`/api/v1/triage/${store.incidents.till}/accept`, { crime_ref: CRIME_REF, necessity: 'theft of razor blades, repeat offender', subjects: ['s0'] });
    expect(accepted.status, accepted.text).toBe(200);
    expect((accepted.body.lists as { subject: string; candidates: { person: string }[] }[]).map((l) => [l.subject, l.candidates.map((c) => c.person)])).toEqual([['s0', ['P-X']]]);
    expect(auditRows(store, 'triage.accepted').at(-1)).toMatchObject({ actor_id: ids.get('Sam'), actor_role: 'supervisor', justification: 'theft of razor blades, repeat offender', detail: { crime_ref: CRIME_REF, subjects: 1, of: 2 } });
    expect(auditRows(store, 'gallery.searched').at(-1)).toMatchObject({ actor_id: ids.get('Sam'), object_ids: ['inc-till', 's0', 'P-X'], detail: { crime_ref: CRIME_REF } });
    expect((await supervisor.post(`/api/v1/triage/${store.incidents.till}/accept`, { crime_ref: CRIME_REF, necessity: 'theft of razor blades, repeat offender', subjects: ['s1'] })).status, 'decided once').toBe(400);
    expect(((await supervisor.get('/api/v1/triage')).body as { incidents: { incident: string }[] }).incidents.map((i: { incident: string }) => i.incident), 'only the aisle incident still waits').toEqual(['inc-aisle']);
    // decided: its triage page and pictures are closed (the case shows only the person chosen)
    expect((await supervisor.get(`/api/v1/triage/${store.incidents.till}`)).status).toBe(409);
    expect((await supervisor.get(incident.subjects[1]!.crops[0]!)).status).toBe(409);
  });

  it('reviewers see the case queue, then one case, each face and candidate photo audited with the crime reference', async () => {
    const queue = await reviewer1.get('/api/v1/cases');
    expect(queue.status).toBe(200);
    expect(queue.body.cases).toMatchObject([{ envelope: store.incidents.till, crime_ref: CRIME_REF, state: 'to_review', subjects: [{ id: 's0', candidates: 1, decisions: 0, confirmed: false }] }]);
    expect(JSON.stringify(queue.body), 'the queue names no person').not.toContain('P-X');
    const viewed = auditRows(store, 'candidates.viewed').length;
    const got = await reviewer1.get(`/api/v1/cases/${store.incidents.till}`);
    expect(got.status, got.text).toBe(200);
    const c = got.body.case as { necessity: string; subjects: { id: string; crops: string[]; context: string[]; candidates: { person: string; score: number; photo: string }[]; confirmed: string | null }[] };
    expect(c.necessity).toBe('theft of razor blades, repeat offender');
    expect(c.subjects.map((s) => s.id), 'only the subjects chosen for search').toEqual(['s0']);
    const s0 = c.subjects[0]!;
    expect(s0.candidates.map((k) => k.person)).toEqual(['P-X']);
    expect(s0.candidates[0]!.score).toBeGreaterThan(0.34);
    expect(s0.crops).toHaveLength(2);
    expect(s0.context).toHaveLength(1);
    expect(auditRows(store, 'candidates.viewed')).toHaveLength(viewed + 1);
    expect(auditRows(store, 'candidates.viewed').at(-1)).toMatchObject({ actor_id: ids.get('Rita'), actor_role: 'reviewer', detail: { crime_ref: CRIME_REF } });

    expect((await reviewer1.get(s0.crops[0]!)).status).toBe(200);
    expect(auditRows(store, 'face.viewed').at(-1)).toMatchObject({ actor_id: ids.get('Rita'), object_ids: ['inc-till', store.incidents.till, 's0'], justification: 'theft of razor blades, repeat offender', detail: { crime_ref: CRIME_REF, kind: 'crop' } });
    expect((await reviewer1.get(s0.context[0]!)).status).toBe(200);
    expect(auditRows(store, 'face.viewed').at(-1)).toMatchObject({ actor_id: ids.get('Rita'), detail: { crime_ref: CRIME_REF, kind: 'context' } });
    expect((await reviewer1.get(`/api/v1/cases/${store.incidents.till}/images/crop_s1_0.jpg`)).status, 'a subject not chosen for search stays unseen').toBe(404);
    const photo = await reviewer1.get(s0.candidates[0]!.photo);
    expect(photo.status).toBe(200);
    expect(photo.headers['content-type']).toBe('image/jpeg');
    expect(auditRows(store, 'gallery.photo_viewed').at(-1)).toMatchObject({ actor_id: ids.get('Rita'), object_ids: ['inc-till', store.incidents.till, 's0', 'P-X', 'photo-P-X'], detail: { crime_ref: CRIME_REF } });
    expect((await reviewer1.get(`/api/v1/cases/${store.incidents.till}/photos/photo-P-OTHER`)).status, 'the gallery is not browsed: only a candidate of the case').toBe(404);
  });

  it('a possible match is shown as one only when a second, different reviewer names the same person; the supervisor exports the case report (audited)', async () => {
    const decide = (c: WebClient, body: Record<string, unknown>) => c.post(`/api/v1/cases/${store.incidents.till}/decisions`, { subject: 's0', reason: 'face and build compared', ...body });
    expect((await decide(reviewer1, { decision: 'possible_match', person: 'P-OTHER' })).status, 'only a candidate of the subject').toBe(400);
    expect((await decide(reviewer1, { decision: 'no_match', person: 'P-X' })).status).toBe(400);
    expect((await decide(reviewer1, { decision: 'maybe' })).status).toBe(400);
    expect((await decide(reviewer1, { decision: 'not_usable', reason: 'no' })).status).toBe(400);
    const first = await decide(reviewer1, { decision: 'possible_match', person: 'P-X' });
    expect(first.status, first.text).toBe(200);
    expect(first.body).toMatchObject({ confirmed: null, decisions: [{ reviewer: 'Rita', mine: true, decision: 'possible_match', person: 'P-X' }] });
    expect((await decide(reviewer1, { decision: 'possible_match', person: 'P-X' })).body.confirmed, 'the same reviewer twice is one reviewer').toBeNull();
    expect((await reviewer1.get('/api/v1/cases')).body.cases).toMatchObject([{ state: 'second_review' }]);
    const second = await decide(reviewer2, { decision: 'possible_match', person: 'P-X', reason: 'same scar above the left eye' });
    expect(second.status, second.text).toBe(200);
    expect(second.body).toMatchObject({ confirmed: 'P-X' });
    expect(auditRows(store, 'review.decided').at(-1)).toMatchObject({ actor_id: ids.get('Ravi'), actor_role: 'reviewer', justification: 'same scar above the left eye', detail: { crime_ref: CRIME_REF, decision: 'possible_match', confirmed: 'P-X' } });
    const shown = (await reviewer2.get(`/api/v1/cases/${store.incidents.till}`)).body.case as { state: string; subjects: { confirmed: string | null; decisions: { reviewer: string; mine: boolean }[] }[] };
    expect(shown.state).toBe('confirmed');
    expect(shown.subjects[0]!.confirmed).toBe('P-X');
    expect(shown.subjects[0]!.decisions.map((x) => [x.reviewer, x.mine])).toEqual([
      ['Rita', false],
      ['Ravi', true],
    ]);

    expect((await reviewer1.get(`/api/v1/cases/${store.incidents.till}/report`)).status, 'a reviewer does not export').toBe(403);
    const report = await supervisor.get(`/api/v1/cases/${store.incidents.till}/report`);
    expect(report.status, report.text.slice(0, 300)).toBe(200);
    expect(report.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(String(report.headers['content-disposition'])).toMatch(/^attachment; filename="case-CR-2026-0417-inc-till\.html"$/);
    expect(report.text).toContain(`Case report: ${CRIME_REF}`);
    expect(report.text).toContain('Possible match with P-X, confirmed by two reviewers.');
    expect(report.text).not.toMatch(/<script/i);
    const exported = auditRows(store, 'case.exported');
    expect(exported).toHaveLength(1);
    expect(exported[0]).toMatchObject({ actor_id: ids.get('Sam'), actor_role: 'supervisor', object_ids: ['inc-till', store.incidents.till], detail: { crime_ref: CRIME_REF, via: 'console' } });
    expect(exported[0]!.sha256s).toEqual([createHash('sha256').update(report.text).digest('hex')]);
  });

  it("the supervisor sees a case's master clips, downloads the one the force holds (audited), and asks the box to keep or fetch them with a reason (signed commands); a reviewer may not", async () => {
    const url = `/api/v1/cases/${store.incidents.till}/masters`;
    expect((await reviewer1.get(url)).status).toBe(403);
    const m = await supervisor.get(url);
    expect(m.status, m.text).toBe(200);
    const body = m.body as { device: string; named: { camera: string; sha256: string; bytes: number }[]; held: { envelope: string; camera: string; sha256: string }[]; commands: unknown[] };
    expect(body.device).toBe('box-a');
    expect(body.named).toEqual([{ camera: 'till2', sha256: expect.stringMatching(/^[0-9a-f]{64}$/), bytes: 4096 }]);
    expect(body.held.map((h) => [h.camera, h.sha256])).toEqual([['till2', body.named[0]!.sha256]]);
    expect(body.commands).toEqual([]);

    const clip = await supervisor.get(`${url}/${body.held[0]!.envelope}`);
    expect(clip.status).toBe(200);
    expect(clip.headers['content-type']).toBe('video/mp2t');
    expect(createHash('sha256').update(clip.raw).digest('hex')).toBe(body.named[0]!.sha256);
    expect(auditRows(store, 'evidence.master_exported').at(-1)).toMatchObject({ actor_id: ids.get('Sam'), actor_role: 'supervisor', sha256s: [body.named[0]!.sha256], detail: { crime_ref: CRIME_REF, camera: 'till2' } });
    expect((await supervisor.get(`${url}/${'0'.repeat(32)}`)).status).toBe(404);
    expect((await supervisor.get(`/api/v1/cases/${store.incidents.door}/masters`)).status, 'not a case').toBe(404);

    expect((await supervisor.post(url, { action: 'fetch', reason: 'need it' })).status).toBe(400);
    expect((await supervisor.post(url, { action: 'delete', reason: 'remove the footage now please' })).status).toBe(400);
    expect((await reviewer1.post(url, { action: 'fetch', reason: 'for the court file' })).status).toBe(403);
    const hold = await supervisor.post(url, { action: 'hold', reason: 'keep it for the court file' });
    expect(hold.status, hold.text).toBe(201);
    const fetch = await supervisor.post(url, { action: 'fetch', reason: 'the investigator needs the native footage' });
    expect(fetch.status, fetch.text).toBe(201);
    const fdb = openForceDb(store.forceDir);
    try {
      const rows = fdb.db.prepare("SELECT op, args, status, device_id FROM fleet_commands WHERE device_id = 'box-a' ORDER BY created_utc").all() as { op: string; args: string; status: string; device_id: string }[];
      expect(rows.map((r) => [r.op, JSON.parse(r.args), r.status])).toEqual([
        ['hold_incident', { incident_id: 'inc-till', days: 365 }, 'queued'],
        ['upload_masters', { incident_id: 'inc-till' }, 'queued'],
      ]);
    } finally {
      fdb.close();
    }
    expect(auditRows(store, 'fleet.command_issued').slice(-2).map((r) => [r.actor_id, r.justification])).toEqual([
      [ids.get('Sam'), `${CRIME_REF}: keep it for the court file`],
      [ids.get('Sam'), `${CRIME_REF}: the investigator needs the native footage`],
    ]);
    expect(((await supervisor.get(url)).body.commands as { op: string; state: string }[]).map((c) => [c.op, c.state])).toEqual([
      ['upload_masters', 'queued'],
      ['hold_incident', 'queued'],
    ]);
  });

  it('series: the same person at two shops is linked once both are accepted; a reviewer splits a wrong link with a reason (audited)', async () => {
    expect((await reviewer1.get('/api/v1/series')).body.series, 'one accepted incident: no series').toEqual([]);
    const accepted = await supervisor.post(`/api/v1/triage/${store.incidents.aisle}/accept`, { crime_ref: 'CR/2026/0502', necessity: 'theft of razor blades at another shop', subjects: ['s0'] });
    expect(accepted.status, accepted.text).toBe(200);
    const listed = await reviewer1.get('/api/v1/series');
    expect(listed.status).toBe(200);
    const series = listed.body.series as { stores: number; days: number; members: { incident: string; store: string; crime_ref: string }[]; links: { a: { envelope: string; subject: string }; b: { envelope: string; subject: string }; score: number }[] }[];
    expect(series).toHaveLength(1);
    expect(series[0]!.stores).toBe(2);
    expect(series[0]!.members.map((m) => [m.incident, m.store, m.crime_ref]).sort()).toEqual([
      ['inc-aisle', 'Station Road', 'CR/2026/0502'],
      ['inc-till', 'High Street', CRIME_REF],
    ]);
    expect(series[0]!.links).toHaveLength(1);
    const link = series[0]!.links[0]!;
    expect(link.score).toBeGreaterThan(0.45);
    expect(auditRows(store, 'series.viewed').length).toBeGreaterThanOrEqual(2);
    expect((await reviewer1.post('/api/v1/series/split', { a: link.a, b: link.b, reason: 'no' })).status, 'three words').toBe(400);
    expect((await reviewer1.post('/api/v1/series/split', { a: link.a, b: link.b, reason: 'different height and build', extra: 1 })).status).toBe(400);
    const split = await reviewer1.post('/api/v1/series/split', { a: link.a, b: link.b, reason: 'different height and build' });
    expect(split.status, split.text).toBe(200);
    expect((await reviewer1.get('/api/v1/series')).body.series).toEqual([]);
    expect((await reviewer1.post('/api/v1/series/split', { a: link.a, b: link.b, reason: 'different height and build' })).status, 'not linked any more').toBe(400);
    expect(auditRows(store, 'series.split')).toHaveLength(1);
  });

  it('throttles guessing: 429 after 5 wrong passwords for a name, a lockout that survives a console restart; an admin turns accounts off', async () => {
    const guesser = client();
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await guesser.post('/api/v1/login', { name: 'Ravi', password: `wrong password ${i}` })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
    const locked = await guesser.post('/api/v1/login', { name: 'Ravi', password: PASSWORD });
    expect(locked.status, 'even the right password waits out the lock').toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(60);
    expect(auditRows(store, 'web.login_failed').length).toBeGreaterThanOrEqual(5);
    await running.proc.stop();
    const ca = running.ca;
    running = await startConsole(store);
    expect(running.ca, 'the same certificate after a restart').toBe(ca);
    expect(running.setupCode, 'no setup code once an admin exists').toBeUndefined();
    expect((await client().post('/api/v1/login', { name: 'Ravi', password: PASSWORD })).status, 'locked after a restart').toBe(429);
    // others can still log in, and sessions outlived the restart
    expect((await client().post('/api/v1/login', { name: 'Rita', password: PASSWORD })).status).toBe(200);
    admin = Object.assign(new WebClient(running.port, running.ca), { cookie: admin.cookie, csrf: admin.csrf });
    reviewer1 = Object.assign(new WebClient(running.port, running.ca), { cookie: reviewer1.cookie, csrf: reviewer1.csrf });
    expect((await admin.get('/api/v1/accounts')).status).toBe(200);
    expect((await reviewer1.get('/api/v1/cases')).status).toBe(200);

    expect((await admin.post(`/api/v1/accounts/${ids.get('Rita')}`, { disabled: true })).body.account).toMatchObject({ disabled: true });
    expect((await reviewer1.get('/api/v1/cases')).status, 'a turned-off account is logged out at once').toBe(401);
    expect((await client().post('/api/v1/login', { name: 'Rita', password: PASSWORD })).status).toBe(401);
    await admin.post(`/api/v1/accounts/${ids.get('Rita')}`, { disabled: false });
    expect((await client().post('/api/v1/login', { name: 'Rita', password: PASSWORD })).status).toBe(200);
    const adminId = ((await admin.get('/api/v1/accounts')).body.accounts as { id: string; role: string }[]).find((a) => a.role === 'admin')!.id;
    expect((await admin.post(`/api/v1/accounts/${adminId}`, { disabled: true })).status, 'an admin is not turned off from a browser').toBe(403);
    expect(query<{ action: string }>(path.join(store.forceDir, 'force.db'), "SELECT action FROM audit WHERE action IN ('web.account_disabled', 'web.account_enabled') ORDER BY seq").map((r) => r.action)).toEqual(['web.account_disabled', 'web.account_enabled']);
  }, 90_000);

  it("the force's audit log is intact after everything the console did", () => {
    const fdb = openForceDb(store.forceDir);
    try {
      expect(fdb.audit.verify().ok).toBe(true);
    } finally {
      fdb.close();
    }
  });
});
