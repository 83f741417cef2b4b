import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveChromium, launchChromium, pageErrors, screenshot, setUpFirstManager } from '../../helpers/browser.js';
import { runCli } from '../../helpers/cli.js';
import { REPO_ROOT, tempDir } from '../../helpers/paths.js';
import { descendants, isAlive, TestProcess } from '../../helpers/process.js';
import { waitFor } from '../../helpers/wait.js';

// The product's promise, through the shipped `npm run demo` and two browsers: an incident logged on the box's
// staff page reaches the force's triage queue, and accepting it there gives candidates to review (the demo's
// custody gallery holds Grace Hopper, one of the two people walking past, as CUSTODY-0001).

const MANAGER_PASSWORD = 'four unrelated words here';
const STAFF = { name: 'Anna', pin: '730418' };
const ADMIN_PASSWORD = 'correct horse battery staple';
const OFFICER = { name: 'Olivia', role: 'supervisor', password: 'lanterns over the quiet harbour' };
const REVIEWER = { name: 'Rita', role: 'reviewer', password: 'seven copper kettles whistle' };
const CRIME_REF = 'DEMO/2026/0042';
const PHONE = { width: 390, height: 844 };
const TABLET = { width: 1024, height: 768 };
/** The footage has people walking past between seconds 10 and 55: log once 45 s of it are recorded, as the demo does. */
const RECORD_BEFORE_LOGGING_MS = 45_000;
/** The window a manager sets for this shop: the last 30 s before "Now", nothing after (the demo's incident is 25 s long). */
const WINDOW_BEFORE_S = 30;
const WINDOW_AFTER_S = 0;

/** What the demo printed for people: its `demo:` lines, bold escapes removed. */
const ANSI = /\x1b\[[0-9;]*m/g;

describe.skipIf(!haveChromium())('npm run demo in a browser: staff log an incident, the force triages it and sees candidates', () => {
  const state = tempDir('hs-demo-browser-');
  let demo: TestProcess;
  /** Everything the demo wrote to stdout so far (the daemon's and force's logs included), escapes removed. */
  let printed = '';
  let browser: Browser;
  let box: { url: string; code: string };
  let force: { url: string; code: string };
  let recordingSinceMs = 0;
  let incidentId = '';
  /** Script errors and console errors of every page (a CSP violation shows here). */
  const errors: string[][] = [];

  /** The first `demo:` line matching `re`, waited for while the demo runs. */
  const demoSaid = (re: RegExp, what: string, timeoutMs: number): Promise<RegExpMatchArray> =>
    waitFor(
      () => {
        if (demo.child.proc.exitCode !== null) throw new Error(`the demo exited (${demo.child.proc.exitCode}); its last output:\n${printed.slice(-3000)}`);
        for (const line of printed.split('\n')) {
          const m = line.startsWith('demo: ') ? re.exec(line) : null;
          if (m) return m;
        }
        return undefined;
      },
      { timeoutMs, intervalMs: 250, what },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nthe demo's last output:\n${printed.slice(-3000)}`);
    });

  beforeAll(async () => {
    // the shipped script, in a state folder of this test's own: footage, keys, databases and accounts all made anew
    demo = new TestProcess(process.execPath, [path.join(REPO_ROOT, 'scripts', 'demo.mjs'), '--no-incident', '--seconds', '600'], {
      cwd: REPO_ROOT,
      env: { ...process.env, HINDSIGHT_DEMO_STATE: state },
    });
    demo.child.proc.stdout?.on('data', (d: Buffer) => {
      printed += d.toString('utf8').replace(ANSI, '');
      // the people walking past are timed from here, as the demo's own incident is
      if (!recordingSinceMs && /^demo: recording camera till2/m.test(printed)) recordingSinceMs = Date.now();
    });
    // making the footage takes about a minute on 2 cores; then the force, its console and the box start
    const boxUrl = await demoSaid(/^demo: web app: (https:\/\/localhost:\d+\/)/, 'the box web app address', 300_000);
    const boxCode = await demoSaid(/make the manager account with the setup code (\d{4}-\d{4}-\d{4})/, "the box's setup code", 5_000);
    const forceUrl = await demoSaid(/^demo: force console \([^)]*\): (https:\/\/localhost:\d+\/)/, 'the force console address', 5_000);
    const forceCode = await demoSaid(/make the force's admin account with the setup code (\d{4}-\d{4}-\d{4})/, "the force console's setup code", 5_000);
    box = { url: boxUrl[1]!, code: boxCode[1]! };
    force = { url: forceUrl[1]!, code: forceCode[1]! };
    browser = await launchChromium();
  }, 360_000);

  afterAll(async () => {
    await browser?.close();
    if (!demo) return;
    const tree = descendants(demo.pid);
    // SIGTERM: the demo stops the daemon, camera, broker, receiver and console itself (SIGKILL after 20 s)
    await demo.stop(20_000);
    const left = tree.filter(isAlive);
    for (const pid of left) process.kill(pid, 'SIGKILL');
    expect(left, 'processes the demo left running after SIGTERM').toEqual([]);
  }, 60_000);

  const device = async (viewport: { width: number; height: number }): Promise<{ context: BrowserContext; page: Page }> => {
    // the box and the console have their own self-signed certificates, accepted once as a person would
    const context = await browser.newContext({ viewport, ignoreHTTPSErrors: true, hasTouch: true });
    const page = await context.newPage();
    errors.push(pageErrors(page));
    return { context, page };
  };

  /** Every picture on the page loaded (the faces come from the console, each look audited). */
  const picturesLoaded = (page: Page) =>
    page.waitForFunction(() => document.images.length > 0 && [...document.images].every((i) => i.complete && i.naturalWidth > 0), undefined, { timeout: 15_000 });

  it('the manager is made from the setup code, sets the incident window, and adds a member of staff', async () => {
    const { context, page } = await device(TABLET);
    await setUpFirstManager(page, box.url, box.code, MANAGER_PASSWORD);
    await screenshot(page, 'demo-box-manager');

    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByLabel('Footage before the moment of an incident (seconds)').fill(String(WINDOW_BEFORE_S));
    await page.getByLabel('Footage after the moment of an incident (seconds)').fill(String(WINDOW_AFTER_S));
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText('Settings saved: they apply now').waitFor();

    await page.getByRole('link', { name: 'Staff and buttons' }).click();
    await page.getByRole('heading', { name: 'Staff accounts' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill(STAFF.name);
    await page.getByLabel(/^PIN/).fill(STAFF.pin);
    await page.getByRole('button', { name: 'Add staff member' }).click();
    await page.getByText(`${STAFF.name} (staff)`).waitFor();
    await screenshot(page, 'demo-box-staff');
    await context.close();
    expect(errors.flat(), 'no script error or CSP violation on the box web app').toEqual([]);
  }, 60_000);

  it('a member of staff logs "Now" at till 2 once the people have walked past; the box delivers it to the force', async () => {
    await demoSaid(/^demo: recording camera till2/, 'the box recording the demo camera', 120_000);
    const { context, page } = await device(PHONE);
    await page.goto(box.url);
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    await page.getByLabel('Name').fill(STAFF.name);
    await page.getByLabel('PIN or password').fill(STAFF.pin);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('button', { name: 'Log incident' }).waitFor();
    await screenshot(page, 'demo-staff-home');

    // the people walk past in the first minute of recording: "Now" with the manager's window covers them
    const wait = recordingSinceMs + RECORD_BEFORE_LOGGING_MS - Date.now();
    if (wait > 0) await page.waitForTimeout(wait);
    await page.getByRole('button', { name: 'Log incident' }).tap();
    await page.getByRole('heading', { name: 'When did it happen?' }).waitFor();
    await page.getByRole('button', { name: 'Now', exact: true }).tap();
    await page.getByRole('heading', { name: 'Where?' }).waitFor();
    await page.getByRole('button', { name: 'Till 2', exact: true }).tap();
    await page.getByRole('heading', { name: 'What happened?' }).waitFor();
    await page.getByLabel('In a few words').fill('customer took two bottles of gin at till 2 without paying');
    await page.getByRole('button', { name: 'Theft', exact: true }).tap();
    await page.getByRole('heading', { name: 'Incident logged' }).waitFor();
    const card = page.locator('[data-incident]');
    incidentId = (await card.getAttribute('data-incident')) ?? '';
    expect(incidentId, 'the staff page shows the incident it logged').not.toBe('');
    await screenshot(page, 'demo-staff-logged');

    // cut, faces found, sealed, sent, and the force's receipt: the staff page follows it
    const config = path.join(state, 'config.yaml');
    const stateOf = async (): Promise<string> => {
      const listed = await runCli(['incident', 'list', '--json', '--config', config], { timeoutMs: 30_000 });
      if (listed.code !== 0) throw new Error(`incident list exited ${listed.code}: ${listed.stderr}`);
      return (JSON.parse(listed.stdout) as { id: string; state: string }[]).find((i) => i.id === incidentId)?.state ?? 'not listed';
    };
    let last = '';
    await waitFor(
      async () => {
        last = await stateOf();
        if (['failed', 'cancelled', 'closed'].includes(last)) throw new Error(`incident ${incidentId} ended ${last}, not delivered`);
        return last === 'delivered';
      },
      { timeoutMs: 240_000, intervalMs: 2000, what: `incident ${incidentId} delivered to the force` },
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last state ${last}; the demo's last output:\n${printed.slice(-3000)}`);
    });
    await card.getByText('Received by the police').waitFor({ timeout: 10_000 });
    await screenshot(page, 'demo-staff-delivered');
    await context.close();
    expect(errors.flat(), 'no script error or CSP violation on the staff page').toEqual([]);
  }, 330_000);

  it("the force's admin adds an officer and a reviewer; the officer accepts the incident; CUSTODY-0001 is a candidate", async () => {
    expect(incidentId, 'an incident was delivered by the test before').not.toBe('');
    const admin = await device(TABLET);
    await admin.page.goto(force.url);
    await admin.page.getByRole('heading', { name: 'Set up the console' }).waitFor();
    await admin.page.getByLabel('Setup code').fill(force.code);
    await admin.page.getByLabel('Your name').fill('Ada');
    await admin.page.getByLabel(/^Password/).fill(ADMIN_PASSWORD);
    await admin.page.getByRole('button', { name: 'Make the admin account' }).click();
    await admin.page.getByRole('heading', { name: 'Accounts', exact: true }).waitFor();
    for (const person of [OFFICER, REVIEWER]) {
      await admin.page.getByLabel('Name', { exact: true }).fill(person.name);
      await admin.page.getByLabel('Role').selectOption(person.role);
      await admin.page.getByLabel(/^Password/).fill(person.password);
      await admin.page.getByRole('button', { name: 'Add account' }).click();
      await admin.page.getByText(`${person.name} (${person.role})`).waitFor();
    }
    await screenshot(admin.page, 'demo-force-accounts');
    await admin.context.close();

    const logIn = async (person: { name: string; password: string }, home: string): Promise<Page> => {
      const { page } = await device(TABLET);
      await page.goto(force.url);
      await page.getByRole('heading', { name: 'Log in' }).waitFor();
      await page.getByLabel('Name').fill(person.name);
      await page.getByLabel('Password').fill(person.password);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('heading', { name: home, exact: true }).waitFor();
      return page;
    };

    // the officer: the incident waits in triage; opened, every person found is ticked for search
    const officer = await logIn(OFFICER, 'Triage');
    const open = officer.getByRole('link', { name: `Open incident ${incidentId} from Demo Store` });
    await open.waitFor({ timeout: 10_000 });
    await screenshot(officer, 'demo-force-triage-queue');
    await open.click();
    await officer.getByRole('heading', { name: `Incident ${incidentId}` }).waitFor();
    await picturesLoaded(officer);
    const people = await officer.locator('[data-subject]').count();
    expect(people, 'people found in the footage').toBeGreaterThanOrEqual(1);
    await screenshot(officer, 'demo-force-triage-incident');
    await officer.getByLabel('Crime reference').fill(CRIME_REF);
    await officer.getByLabel('Why a search is necessary and proportionate').fill('theft of two bottles of gin, suspect not known to staff');
    await officer.getByRole('button', { name: 'Accept and search' }).click();
    await officer.getByRole('heading', { name: 'Triage', exact: true }).waitFor();
    await officer.getByText('No incident waits for triage.').waitFor();

    // the reviewer: the case with its candidates from the custody gallery
    const reviewer = await logIn(REVIEWER, 'Cases');
    await reviewer.getByRole('link', { name: `Review case ${CRIME_REF}, incident ${incidentId}` }).click();
    await reviewer.getByRole('heading', { name: `Case ${CRIME_REF}` }).waitFor();
    await reviewer.locator('[data-subject]').first().waitFor();
    await picturesLoaded(reviewer);
    const withCustody = reviewer.locator('[data-subject]').filter({ has: reviewer.locator('[data-person="CUSTODY-0001"]') });
    // Grace Hopper is in the gallery; the other person walking past is not, and must not be offered her
    expect(await withCustody.count(), 'people of the incident with CUSTODY-0001 among their candidates').toBe(1);
    await expect(withCustody.first().getByRole('img', { name: 'Custody photo of CUSTODY-0001' }).isVisible()).resolves.toBe(true);
    await screenshot(reviewer, 'demo-force-candidates');
    expect(errors.flat(), 'no script error or CSP violation on any page').toEqual([]);
  }, 120_000);
});
