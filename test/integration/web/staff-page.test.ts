import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startDaemon, writeConfig } from '../../helpers/cli.js';
import { haveChromium, launchChromium, liveFfmpegs as liveFfmpegsOf, pageErrors, screenshot, seriousA11yProblems, setUpFirstManager, smallControls } from '../../helpers/browser.js';
import { tempDir } from '../../helpers/paths.js';
import type { TestProcess } from '../../helpers/process.js';
import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import { openDatabase } from '../../../daemon/src/db/db.js';
import { SegmentsRepo } from '../../../daemon/src/db/repos/segments.js';
import { makeSegmentFiles } from '../../helpers/incident-harness.js';
import { queryStateDb } from '../../helpers/recorder.js';
import { startCamera } from '../../helpers/rtsp-camera.js';
import { waitFor } from '../../helpers/wait.js';
import { WEB_TEST_CONFIG, WebClient, webOf } from '../../helpers/web.js';
import { FakeOnvifCamera } from '../../../daemon/src/devkit/onvif-camera.js';

const PASSWORD = 'four unrelated words here';
const PHONE = { width: 390, height: 844 };
const TABLET = { width: 1024, height: 768 };

describe.skipIf(!haveChromium())('web app in a browser: first manager, staff account, the staff page logs an incident', () => {
  const dir = tempDir();
  let daemon: TestProcess;
  let camera: Awaited<ReturnType<typeof startCamera>>;
  let entrance: Awaited<ReturnType<typeof startCamera>>;
  let browser: Browser;
  let base: string;
  let setupCode: string;
  let port: number;
  let ca: string;
  let buttonToken: string;
  let onvif: FakeOnvifCamera;

  beforeAll(async () => {
    [camera, entrance] = await Promise.all([startCamera({ width: 320, height: 240, fps: 5, gop: 5 }), startCamera({ width: 320, height: 240, fps: 10, gop: 10, pattern: 'ball' })]);
    onvif = await new FakeOnvifCamera({ rtspUrl: entrance.url, name: 'Entrance' }).start();
    const config = writeConfig(dir, {
      ...WEB_TEST_CONFIG,
      // discovery asks the fake ONVIF camera on loopback only (no multicast from a test)
      cameras: { networks: ['127.0.0.0/8'], discovery_multicast: false, discovery_targets: [`127.0.0.1:${onvif.udpPort}`], discovery_wait_ms: 500 },
      recorder: { segment_seconds: 2 },
      // a short window after "now", so the incident is cut while the test watches
      incidents: { window_before_s: 10, window_after_s: 2, wait_for_footage_s: 10 },
    });
    const add = await runCli(['camera', 'add', '--config', config, '--id', 'till-2', '--name', 'Till 2', '--zone', 'Tills', '--url', camera.url]);
    expect(add.code, add.stderr).toBe(0);
    // the till camera has been recording for a while: 10 minutes of its buffer, ending 4 minutes ago, so
    // "10 min ago" on the staff page finds footage
    const files = await makeSegmentFiles(path.join(dir, 'earlier'), 20);
    const db = openDatabase(path.join(dir, 'state', 'hindsight.db'));
    const bufferDir = path.join(dir, 'state', 'buffer', 'till-2');
    mkdirSync(bufferDir, { recursive: true });
    const from = Date.now() - 14 * 60_000;
    for (let n = 0; n < 300; n++) {
      const rel = path.join('till-2', `r0earlier_${String(n).padStart(6, '0')}.ts`);
      copyFileSync(files[n % files.length]!, path.join(dir, 'state', 'buffer', rel));
      new SegmentsRepo(db).insert({ cameraId: 'till-2', path: rel, startUtcMs: from + n * 2000, endUtcMs: from + (n + 1) * 2000, bytes: statSync(path.join(dir, 'state', 'buffer', rel)).size, runId: 'r0earlier', recovered: false });
    }
    db.close();
    daemon = startDaemon(config);
    const web = await webOf(daemon, path.join(dir, 'state'));
    base = `https://localhost:${web.port}`;
    ({ port, ca } = web);
    setupCode = web.setupCode!;
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await daemon?.stop();
    await camera?.stop();
    await entrance?.stop();
    await onvif?.stop();
  });

  /** A browser context like a shop's tablet or phone: the box's self-signed certificate accepted once. */
  const device = (viewport: { width: number; height: number }): Promise<BrowserContext> => browser.newContext({ viewport, ignoreHTTPSErrors: true, bypassCSP: false, hasTouch: true });
  const a11y = async (context: BrowserContext, url: string, act: (p: Page) => Promise<void>): Promise<unknown[]> => {
    // axe is injected as a script, which the app's CSP rightly forbids: a separate context without the CSP checks the same page
    const page = await (await browser.newContext({ ignoreHTTPSErrors: true, bypassCSP: true, storageState: await context.storageState() })).newPage();
    await page.goto(url);
    await act(page);
    return seriousA11yProblems(page);
  };

  it('the first manager is made with the setup code and adds a staff member', async () => {
    const context = await device(TABLET);
    const page = await context.newPage();
    const errors = pageErrors(page);
    await setUpFirstManager(page, base, setupCode, PASSWORD);
    await screenshot(page, 'manager-incidents-tablet');
    // the console is a tab at a time; each tab is its own address
    await page.getByRole('link', { name: 'Staff and buttons' }).click();
    await page.getByRole('heading', { name: 'Staff accounts' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Sam');
    await page.getByLabel(/^PIN/).fill('482915');
    await page.getByRole('button', { name: 'Add staff member' }).click();
    await page.getByText('Sam (staff)').waitFor();
    await screenshot(page, 'manager-staff-tablet');

    // a camera found on the network (ONVIF), its address asked of it, tried, added, then seen recording
    await page.getByRole('link', { name: 'Cameras' }).click();
    await page.getByRole('button', { name: 'Find cameras on the network' }).click();
    await page.locator('[data-found]').getByText('Entrance').waitFor({ timeout: 10_000 });
    await page.getByRole('button', { name: 'Use this camera' }).click();
    await page.getByText('Address filled in below').waitFor();
    expect(await page.getByLabel('Camera address (RTSP)').inputValue()).toBe(entrance.url);
    expect(await page.getByLabel('Camera name').inputValue()).toBe('Entrance');
    expect(onvif.calls).toEqual(['GetCapabilities', 'GetProfiles', 'GetStreamUri']);
    await page.getByLabel('Zone (optional)').fill('Front');
    await page.getByRole('button', { name: 'Try it' }).click();
    await page.getByText(/It works: h264 320x240/).waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: 'Add camera' }).click();
    const card = page.locator('[data-camera="entrance"]');
    await card.waitFor();
    for (let i = 0; i < 30 && !(await card.getByText('Recording').isVisible()); i++) {
      await page.waitForTimeout(1000);
      await page.reload();
      await card.waitFor();
    }
    await card.getByText('Recording').waitFor({ timeout: 5000 });
    await card.getByRole('button', { name: 'Picture' }).click();
    await page.getByRole('img', { name: 'Picture from Entrance' }).waitFor();
    await screenshot(page, 'manager-cameras-tablet');

    // live view: the camera's H.264 copied into fragmented MP4, played by the browser's MediaSource
    const liveFfmpegs = (): string[] => liveFfmpegsOf(daemon.pid!);
    await card.getByRole('button', { name: 'Live' }).click();
    await page.getByRole('status').filter({ hasText: /^Live$/ }).waitFor({ timeout: 20_000 });
    const frames = (): Promise<number> => page.evaluate(() => document.querySelector('video')?.getVideoPlaybackQuality().totalVideoFrames ?? 0);
    await page.waitForFunction(() => (document.querySelector('video')?.getVideoPlaybackQuality().totalVideoFrames ?? 0) > 0, undefined, { timeout: 15_000 });
    const before = await frames();
    await page.waitForTimeout(5000);
    const decoded = (await frames()) - before;
    console.log(JSON.stringify({ liveFramesDecodedIn5s: decoded }));
    expect(decoded, 'frames decoded in 5 s of live view').toBeGreaterThanOrEqual(20);
    const live = liveFfmpegs();
    expect(live, 'one live-view ffmpeg').toHaveLength(1);
    expect(live[0], 'stream copy, no transcode').toMatch(/-c:v copy/);
    expect(live[0]).not.toMatch(/libx264|-vf /);
    await screenshot(page, 'manager-live-tablet');
    await page.getByRole('button', { name: 'Close live view' }).click();
    await page.waitForTimeout(5000);
    expect(liveFfmpegs(), 'no live-view process 5 s after the last viewer left').toEqual([]);

    expect(await a11y(context, `${base}/#cameras`, async (p) => void (await p.getByRole('button', { name: 'Find cameras on the network' }).waitFor()))).toEqual([]);

    // a hardware button for the tills: its request is shown once
    await page.getByRole('link', { name: 'Staff and buttons' }).click();
    await page.getByLabel('Button name').fill('Till button');
    await page.getByLabel(/^Zone \(empty/).fill('Tills');
    await page.getByRole('button', { name: 'Add button' }).click();
    const request = await page.locator('pre').textContent();
    buttonToken = /Bearer ([A-Za-z0-9_-]+)/.exec(request ?? '')![1]!;
    expect(await a11y(context, `${base}/#people`, async (p) => void (await p.getByRole('heading', { name: 'Staff accounts' }).waitFor()))).toEqual([]);

    // settings: a change applies at once and is audited; above the force's cap it is refused in words
    await page.getByRole('link', { name: 'Settings' }).click();
    const beforeField = page.getByLabel('Footage before the moment of an incident (seconds)');
    await beforeField.waitFor();
    expect(await beforeField.inputValue(), 'the config file of this test says 10').toBe('10');
    await beforeField.fill('90');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText('Settings saved: they apply now').waitFor();
    expect(queryStateDb<{ detail: string }>(dir, "SELECT detail FROM audit WHERE action = 'settings.changed'").map((r) => JSON.parse(r.detail) as unknown)).toEqual([{ from: 10, to: 90 }]);
    await page.getByLabel('Footage after the moment of an incident (seconds)').fill('590');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText(/together may be at most 600 seconds \(a limit set by the police force\)/).waitFor();
    await screenshot(page, 'manager-settings-tablet');
    await page.getByLabel('Footage after the moment of an incident (seconds)').fill('2');
    await page.getByRole('button', { name: 'Back to 10' }).click();
    // the form is drawn again from the box's answer (the earlier toast may still show)
    await page.getByRole('button', { name: 'Back to 10' }).waitFor({ state: 'detached' });
    expect(await page.getByLabel('Footage before the moment of an incident (seconds)').inputValue()).toBe('10');
    expect(await a11y(context, `${base}/#settings`, async (p) => void (await p.getByRole('button', { name: 'Save settings' }).waitFor()))).toEqual([]);

    // this box: the link to the force, what waits to be sent, the face models
    await page.getByRole('link', { name: 'This box' }).click();
    await page.getByText('Not set up with the police force yet').waitFor();
    await page.getByText(/^Ready \(/).waitFor();
    await screenshot(page, 'manager-box-tablet');
    expect(await a11y(context, `${base}/#box`, async (p) => void (await p.getByText('Link to the police force').waitFor()))).toEqual([]);
    // the one refused settings change is the browser's only failed request
    expect(errors.filter((e) => /status of 400/.test(e)), 'the refused window').toHaveLength(1);
    expect(errors.filter((e) => !/status of 400/.test(e)), 'no script error or CSP violation on the page').toEqual([]);
    await context.close();
  }, 90_000);

  it('staff log in with a PIN and log an incident in 4 taps; the page follows it to extracting and beyond', async () => {
    await waitFor(() => queryStateDb(dir, "SELECT id FROM segments WHERE run_id != 'r0earlier'").length >= 3, { timeoutMs: 30_000, what: 'the camera recording' });
    const context = await device(PHONE);
    const page = await context.newPage();
    const errors = pageErrors(page);
    await page.goto(base);
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    expect(await smallControls(page), 'login controls big enough for gloves').toEqual([]);
    await page.getByLabel('Name').fill('Sam');
    await page.getByLabel('PIN or password').fill('482915');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('button', { name: 'Log incident' }).waitFor();
    expect(await smallControls(page), 'staff home controls').toEqual([]);
    await screenshot(page, 'staff-home-phone');
    await page.setViewportSize(TABLET);
    await screenshot(page, 'staff-home-tablet');
    await page.setViewportSize(PHONE);

    let taps = 0;
    const tap = async (name: string | RegExp): Promise<void> => {
      await page.getByRole('button', { name, exact: typeof name === 'string' }).tap();
      taps++;
    };
    await tap('Log incident');
    await page.getByRole('heading', { name: 'When did it happen?' }).waitFor();
    expect(await smallControls(page), 'when-step controls').toEqual([]);
    await tap('10 min ago');
    await page.getByRole('heading', { name: 'Where?' }).waitFor();
    await tap('Tills');
    await page.getByRole('heading', { name: 'What happened?' }).waitFor();
    expect(await smallControls(page), 'what-step controls').toEqual([]);
    await page.getByLabel('In a few words').fill('took two bottles of gin past the tills');
    await screenshot(page, 'staff-what-phone');
    await tap('Theft');
    await page.getByRole('heading', { name: 'Incident logged' }).waitFor();
    expect(taps, 'taps after login').toBeLessThanOrEqual(4);
    await page.locator('[data-incident] .state').filter({ hasText: /Saving the footage|Finding faces|Sealed|Sending|Received by the police|Needs attention/ }).first().waitFor({ timeout: 60_000 });
    await screenshot(page, 'staff-incident-phone');
    const incidents = queryStateDb<{ state: string; actor_id: string; reason: string; at: number; logged: number }>(dir, 'SELECT state, logged_by_id AS actor_id, reason, incident_at_ms AS at, logged_at_ms AS logged FROM incidents');
    expect(incidents).toHaveLength(1);
    expect(incidents[0]!.reason).toBe('theft');
    expect(incidents[0]!.logged - incidents[0]!.at, 'it happened 10 minutes before it was logged').toBe(10 * 60_000);
    expect(['extracting', 'analysing', 'sealed', 'sending', 'delivered', 'failed']).toContain(incidents[0]!.state);
    expect(errors, 'no script error or CSP violation on the page').toEqual([]);

    // the hardware button is pressed; the press waits on the staff page until Sam says what happened
    const pressed = await new WebClient(port, ca).post('/api/v1/button/press', undefined, { origin: null, headers: { authorization: `Bearer ${buttonToken}` } });
    expect(pressed.status, pressed.text).toBe(201);
    await page.getByRole('button', { name: 'Done' }).tap();
    await page.getByRole('heading', { name: 'Button presses waiting for you' }).waitFor({ timeout: 10_000 });
    await screenshot(page, 'staff-press-waiting-phone');
    await page.getByRole('button', { name: 'Say what happened' }).tap();
    await page.getByLabel('In a few words').fill('a customer pushed a member of staff at till 2');
    await page.getByRole('button', { name: 'Violence' }).tap();
    await page.getByRole('heading', { name: 'Incident logged' }).waitFor();
    await page.locator('[data-incident] .state').filter({ hasText: /Saving the footage|Finding faces|Sealed|Sending|Received by the police|Needs attention/ }).first().waitFor({ timeout: 60_000 });
    expect(queryStateDb(dir, "SELECT state FROM button_presses")).toEqual([{ state: 'completed' }]);
    expect(queryStateDb<{ reason: string }>(dir, "SELECT reason FROM incidents ORDER BY logged_at_ms").map((r) => r.reason)).toEqual(['theft', 'violence']);

    for (const [label, act] of [
      ['staff home', async (p: Page) => void (await p.getByRole('button', { name: 'Log incident' }).waitFor())],
      ['when step', async (p: Page) => { await p.getByRole('button', { name: 'Log incident' }).click(); await p.getByRole('heading', { name: 'When did it happen?' }).waitFor(); }],
    ] as const) expect(await a11y(context, base, act), label).toEqual([]);
    await context.close();
  }, 120_000);

  it('a manager plays an incident\'s saved clip (stream copy, audited) and reads the audit log', async () => {
    const context = await device(TABLET);
    const page = await context.newPage();
    const errors = pageErrors(page);
    await page.goto(base);
    await page.getByLabel('Name').fill('Maria');
    await page.getByLabel('PIN or password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    const play = page.getByRole('button', { name: 'Play Till 2' }).first();
    await play.waitFor({ timeout: 60_000 });
    await play.click();
    const video = page.getByLabel('Saved clip of Till 2');
    await video.waitFor();
    await page.waitForFunction(() => {
      const v = document.querySelector('#player video') as HTMLVideoElement | null;
      return v !== null && v.readyState >= 2 && v.getVideoPlaybackQuality().totalVideoFrames > 0;
    }, undefined, { timeout: 20_000 });
    await screenshot(page, 'manager-incident-tablet');
    expect(queryStateDb(dir, "SELECT action FROM audit WHERE action = 'evidence.clip_viewed'").length, 'the playback is audited').toBeGreaterThanOrEqual(1);
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByLabel('Show').selectOption({ label: 'Evidence' });
    await page.locator('.audit li').filter({ hasText: 'evidence.clip_viewed' }).first().waitFor();
    await screenshot(page, 'manager-audit-tablet');
    expect(await a11y(context, `${base}/#audit`, async (p) => void (await p.getByRole('heading', { name: 'Audit log (read-only)' }).waitFor()))).toEqual([]);
    expect(await a11y(context, base, async (p) => void (await p.getByRole('button', { name: 'Play Till 2' }).first().waitFor()))).toEqual([]);
    expect(errors, 'no script error or CSP violation on the page').toEqual([]);
    await context.close();
  }, 120_000);
});