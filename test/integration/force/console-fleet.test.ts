import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandDispatch } from '../../../daemon/src/force/commands.js';
import { openForceDb } from '../../../daemon/src/force/database.js';
import { AuditHeadsRepo } from '../../../daemon/src/force/db/audit-heads.js';
import { FleetIntake } from '../../../daemon/src/force/fleet.js';
import { silentLogger } from '../../../daemon/src/log/logger.js';
import { systemClock } from '../../../daemon/src/util/clock.js';
import { haveChromium, launchChromium, pageErrors, screenshot, seriousA11yProblems, smallControls } from '../../helpers/browser.js';
import { query } from '../../helpers/evidence.js';
import { auditRows, consoleStore, startConsole, type ConsoleStore, type RunningConsole } from '../../helpers/force-console.js';
import { tempDir } from '../../helpers/paths.js';
import { WebClient } from '../../helpers/web.js';

const ADMIN_PASSWORD = 'correct horse battery staple';
const PASSWORD = 'four unrelated words here';

/** A box's health document as the uplink sends it (PROTOCOL.md), with `cameras` recording or not and any alarms. */
function health(cameras: [string, string][], alarms: { kind: string; subject: string; since: number; message?: string }[] = []): Buffer {
  return Buffer.from(
    JSON.stringify({
      ts: Date.now(),
      uptime_s: 3600,
      version: '0.1.0',
      clock: { synced: true, offset_ms: 2, source: 'chrony' },
      outbox: { pending: 0, bytes: 0, oldest_age_s: null },
      cameras: cameras.map(([id, state]) => ({ id, state, fps: state === 'recording' ? 25 : 0, kbps: state === 'recording' ? 4000 : 0, last_segment_age_s: state === 'recording' ? 1 : 900 })),
      disk: { buffer_bytes: 1e11, free_bytes: 4.2e11, hours_of_buffer_left: 300 },
      incidents: { open: 0, failed: 0 },
      alarms,
    }),
  );
}

const state = (s: 'online' | 'offline'): Buffer => Buffer.from(JSON.stringify({ state: s, version: '0.1.0', boot_id: 'b1', bd_seq: 1 }));

/**
 * The fleet in the force's console, for admins: every box with what needs attention first, one box in
 * full, and a command given with a reason (audited) whose answer comes back on the page. The boxes' state
 * and health reach the force database through the receiver's own intake; the box's answer through the
 * receiver's own reply handling.
 */
describe.skipIf(!haveChromium())('the fleet in the console: at a glance, one box, a command with its answer', () => {
  const dir = tempDir('hs-console-fleet-');
  let store: ConsoleStore;
  let running: RunningConsole;
  let browser: Browser;
  let admin: WebClient;

  beforeAll(async () => {
    store = await consoleStore(dir);
    const fdb = openForceDb(store.forceDir);
    try {
      const intake = new FleetIntake({ db: fdb.db, clock: systemClock, log: silentLogger, prefix: 'hindsight/v1' });
      intake.handle('hindsight/v1/box-a/state', state('online'));
      intake.handle('hindsight/v1/box-a/health', health([['till1', 'recording'], ['door', 'recording']]));
      intake.handle('hindsight/v1/box-b/state', state('offline'));
      intake.handle('hindsight/v1/box-b/health', health([['till1', 'recording'], ['yard', 'retrying']], [{ kind: 'camera.down', subject: 'yard', since: Date.now() - 600_000, message: 'camera yard has not recorded for 10 minutes: check its power and network' }]));
      intake.handle('hindsight/v1/box-c/state', state('online'));
      intake.handle('hindsight/v1/box-c/health', health([['aisle', 'recording']]));
      const heads = new AuditHeadsRepo(fdb.db);
      heads.acknowledge('box-c', { count: 40, headHash: 'a'.repeat(64), boxTs: Date.now() }, 'baseline', Date.now());
      heads.alarm('box-c', 'rewritten: the head at 52 rows does not extend the acknowledged head at 40 rows', Date.now());
    } finally {
      fdb.close();
    }
    running = await startConsole(store);
    admin = new WebClient(running.port, running.ca);
    expect((await admin.post('/api/v1/setup', { code: running.setupCode, name: 'Ada', password: ADMIN_PASSWORD })).status).toBe(201);
    expect((await admin.post('/api/v1/accounts', { name: 'Rita', role: 'reviewer', password: PASSWORD })).status).toBe(201);
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await running?.proc.stop();
  });

  it('the API: every box with its state, cameras, alarms and audit check; a command needs a reason and is audited; reviewers are refused', async () => {
    const { boxes } = (await admin.get('/api/v1/fleet')).body as { boxes: { device: string; state: string; cameras: unknown; alarms: unknown[]; audit: { status: string } | null }[] };
    expect(boxes.map((b) => [b.device, b.state, b.cameras, b.alarms.length, b.audit?.status ?? null])).toEqual([
      ['box-a', 'online', { recording: 2, total: 2 }, 0, null],
      ['box-b', 'offline', { recording: 1, total: 2 }, 1, null],
      ['box-c', 'online', { recording: 1, total: 1 }, 0, 'alarm'],
    ]);
    const one = (await admin.get('/api/v1/fleet/box-b')).body as { health: { cameras: unknown[] }; commands: unknown[] };
    expect(one.health.cameras).toHaveLength(2);
    expect((await admin.get('/api/v1/fleet/box-z')).status).toBe(404);
    expect((await admin.post('/api/v1/fleet/box-a/commands', { op: 'ping', reason: 'why' })).status).toBe(400);
    expect((await admin.post('/api/v1/fleet/box-a/commands', { op: 'wipe', reason: 'the box was stolen tonight' })).status, 'not from the console').toBe(400);
    const reviewer = new WebClient(running.port, running.ca);
    expect((await reviewer.post('/api/v1/login', { name: 'Rita', password: PASSWORD })).status).toBe(200);
    expect((await reviewer.get('/api/v1/fleet')).status).toBe(403);
    const issued = await admin.post('/api/v1/fleet/box-a/commands', { op: 'get_config', reason: 'check the window cap after the change' });
    expect(issued.status, issued.text).toBe(201);
    expect(issued.body).toMatchObject({ device: 'box-a', op: 'get_config', state: 'queued' });
    const row = auditRows(store, 'fleet.command_issued').at(-1)!;
    expect(row).toMatchObject({ actor_type: 'user', actor_role: 'admin', justification: 'check the window cap after the change' });
    expect(row.object_ids).toEqual([(issued.body as { id: string }).id, 'box-a']);
  });

  it('in a browser: boxes needing attention first; one box in full; a ping with a reason, answered', async () => {
    const context = await browser.newContext({ viewport: { width: 1024, height: 768 }, ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const errors = pageErrors(page);
    const base = `https://localhost:${running.port}`;
    await page.goto(base);
    await page.getByLabel('Name').fill('Ada');
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('link', { name: 'Fleet' }).click();
    await page.getByRole('heading', { name: 'Fleet', exact: true }).waitFor();
    const order = await page.locator('#fleet tbody tr').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.box));
    expect(order, 'the boxes that need attention first').toEqual(['box-b', 'box-c', 'box-a']);
    await page.getByText('audit log fails its check').waitFor();
    await page.getByText('offline, 1 camera(s) not recording, camera down').waitFor();
    expect(await smallControls(page, 44), 'fleet page controls').toEqual([]);
    await screenshot(page, 'console-fleet');

    await page.getByRole('link', { name: 'box-a' }).click();
    await page.getByRole('heading', { name: 'Box box-a · High Street' }).waitFor();
    await page.getByRole('button', { name: 'Ping' }).click();
    await page.getByText('Say why, in at least three words').waitFor();
    await page.getByLabel(/^Why/).fill('is the shop box still reachable');
    await page.getByRole('button', { name: 'Ping' }).click();
    await page.getByText('Ping: sent to the receiver, waiting for the box').waitFor();
    // the box's answer, taken by the receiver's own reply handling
    const cmd = query<{ cmd_id: string }>(`${store.forceDir}/force.db`, "SELECT cmd_id FROM fleet_commands WHERE op = 'ping'")[0]!.cmd_id;
    const fdb = openForceDb(store.forceDir);
    try {
      const dispatch = new CommandDispatch({ db: fdb.db, audit: fdb.audit, prefix: 'hindsight/v1', clock: systemClock, log: silentLogger, publish: async () => undefined });
      expect(dispatch.handle('hindsight/v1/box-a/cmd/res', Buffer.from(JSON.stringify({ cmd_id: cmd, status: 'ok', data: { pong: true, ts: 1 } })), { correlationData: Buffer.from(cmd) })).toBe(true);
    } finally {
      fdb.close();
    }
    await page.getByText('Ping: the box answered').waitFor({ timeout: 10_000 });
    await page.getByText('"pong": true').waitFor();
    await page.locator('#latest-commands').getByText(/Ping · done/).waitFor();
    expect(await page.getByText('Say why, in at least three words').count(), 'the earlier error is gone').toBe(0);
    expect(auditRows(store, 'fleet.command_issued').at(-1)!.justification).toBe('is the shop box still reachable');
    await screenshot(page, 'console-fleet-box');
    const checker = await browser.newContext({ viewport: { width: 1024, height: 768 }, ignoreHTTPSErrors: true, bypassCSP: true, storageState: await context.storageState() });
    try {
      const p = await checker.newPage();
      await p.goto(`${base}/#fleet`);
      await p.getByRole('heading', { name: 'Fleet', exact: true }).waitFor();
      expect(await seriousA11yProblems(p)).toEqual([]);
    } finally {
      await checker.close();
    }
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);
});
