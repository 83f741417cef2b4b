import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveChromium, launchChromium, pageErrors, screenshot, seriousA11yProblems, smallControls } from '../../helpers/browser.js';
import { auditRows, consoleStore, startConsole, type ConsoleStore, type RunningConsole } from '../../helpers/force-console.js';
import { tempDir } from '../../helpers/paths.js';

const ADMIN_PASSWORD = 'correct horse battery staple';
const PASSWORD = 'four unrelated words here';
const CRIME_REF = 'CR/2026/0417';
const TABLET = { width: 1024, height: 768 };

describe.skipIf(!haveChromium())("the force's reviewers' console in a browser: an officer triages, a reviewer decides, a second confirms, the report is downloaded", () => {
  const dir = tempDir('hs-console-page-');
  let store: ConsoleStore;
  let running: RunningConsole;
  let browser: Browser;
  let base: string;
  /** Script errors and console errors (a CSP violation shows here) of every page, as they come. */
  const errors: string[][] = [];

  beforeAll(async () => {
    store = await consoleStore(dir);
    running = await startConsole(store);
    base = `https://localhost:${running.port}`;
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await running?.proc.stop();
  });

  /** A reviewer's tablet: the console's self-signed certificate accepted once. */
  const tablet = async (): Promise<{ context: BrowserContext; page: Page }> => {
    const context = await browser.newContext({ viewport: TABLET, ignoreHTTPSErrors: true, acceptDownloads: true });
    const page = await context.newPage();
    errors.push(pageErrors(page));
    return { context, page };
  };
  const logIn = async (page: Page, name: string, home: string): Promise<void> => {
    await page.goto(base);
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    await page.getByLabel('Name').fill(name);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: home, exact: true }).waitFor();
  };
  /** axe-core on the same page, in a context without the CSP (axe is injected as a script, which the CSP rightly forbids). */
  const a11y = async (context: BrowserContext, url: string, ready: (p: Page) => Promise<unknown>): Promise<unknown[]> => {
    const checker = await browser.newContext({ viewport: TABLET, ignoreHTTPSErrors: true, bypassCSP: true, storageState: await context.storageState() });
    try {
      const page = await checker.newPage();
      await page.goto(url);
      await ready(page);
      return await seriousA11yProblems(page);
    } finally {
      await checker.close();
    }
  };
  const picturesLoaded = (page: Page) => page.waitForFunction(() => [...document.images].length > 0 && [...document.images].every((i) => i.complete && i.naturalWidth > 0));

  it('the admin is made with the setup code and adds a supervisor and two reviewers', async () => {
    const { context, page } = await tablet();
    await page.goto(base);
    await page.getByRole('heading', { name: 'Set up the console' }).waitFor();
    await page.getByLabel('Setup code').fill(running.setupCode!);
    await page.getByLabel('Your name').fill('Ada');
    await page.getByLabel(/^Password/).fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Make the admin account' }).click();
    await page.getByRole('heading', { name: 'Accounts', exact: true }).waitFor();
    for (const [name, role] of [['Sam', 'supervisor'], ['Rita', 'reviewer'], ['Ravi', 'reviewer']] as const) {
      await page.getByLabel('Name', { exact: true }).fill(name);
      await page.getByLabel('Role').selectOption(role);
      await page.getByLabel(/^Password/).fill(PASSWORD);
      await page.getByRole('button', { name: 'Add account' }).click();
      await page.getByText(`${name} (${role})`).waitFor();
    }
    expect(await smallControls(page, 44), 'accounts page controls').toEqual([]);
    expect(await a11y(context, `${base}/#accounts`, (p) => p.getByText('Ravi (reviewer)').waitFor())).toEqual([]);
    await context.close();
  });

  it('the supervisor opens an incident from the triage queue and accepts it with a crime reference', async () => {
    const { context, page } = await tablet();
    await logIn(page, 'Sam', 'Triage');
    expect(await smallControls(page, 44), 'triage queue controls').toEqual([]);
    await page.getByRole('link', { name: /Open incident inc-till/ }).click();
    await page.getByRole('heading', { name: 'Incident inc-till' }).waitFor();
    await picturesLoaded(page);
    expect(await smallControls(page, 44), 'triage page controls').toEqual([]);
    await screenshot(page, 'force-triage');
    expect(await a11y(context, `${base}/#triage/${store.incidents.till}`, (p) => p.getByRole('heading', { name: 'Incident inc-till' }).waitFor())).toEqual([]);
    // the stranger (s1) is not searched: only what the officer chooses
    await page.getByLabel('Search for person s1').uncheck();
    await page.getByLabel('Crime reference').fill(CRIME_REF);
    await page.getByLabel('Why a search is necessary and proportionate').fill('theft of razor blades, repeat offender at this shop');
    await page.getByRole('button', { name: 'Accept and search' }).click();
    await page.getByRole('heading', { name: 'Triage', exact: true }).waitFor();
    await page.getByText('incident inc-door').waitFor();
    expect(await page.getByText('incident inc-till').count(), 'accepted: no longer waiting').toBe(0);
    expect(auditRows(store, 'triage.accepted')).toMatchObject([{ actor_role: 'supervisor', detail: { crime_ref: CRIME_REF, subjects: 1, of: 2 } }]);
    await context.close();
  });

  it('a reviewer finds the case in the queue and decides possible match; a second, different reviewer confirms it', async () => {
    const first = await tablet();
    await logIn(first.page, 'Rita', 'Cases');
    await first.page.getByText(`${CRIME_REF} · High Street`).waitFor();
    await first.page.getByText('To review').waitFor();
    expect(await smallControls(first.page, 44), 'case queue controls').toEqual([]);
    await screenshot(first.page, 'force-queue');
    expect(await a11y(first.context, `${base}/#cases`, (p) => p.getByText('To review').waitFor())).toEqual([]);
    await first.page.getByRole('link', { name: /Review case CR\/2026\/0417/ }).click();
    await first.page.getByRole('heading', { name: `Case ${CRIME_REF}` }).waitFor();
    await picturesLoaded(first.page);
    const person = first.page.locator('[data-subject="s0"]');
    await person.getByText('Not reviewed yet').waitFor();
    await expect(person.getByRole('img', { name: 'Custody photo of P-X' }).isVisible()).resolves.toBe(true);
    expect(await first.page.locator('[data-subject="s1"]').count(), 'the subject not searched is not shown').toBe(0);
    expect(await first.page.getByRole('link', { name: 'Download case report' }).count(), 'a reviewer does not export').toBe(0);
    expect(await smallControls(first.page, 44), 'review page controls').toEqual([]);
    await screenshot(first.page, 'force-review');
    expect(await a11y(first.context, `${base}/#cases/${store.incidents.till}`, (p) => p.getByText('Not reviewed yet').waitFor())).toEqual([]);
    await person.getByLabel('Why (at least three words)').fill('same face shape, nose and hairline');
    await person.getByLabel('Candidate, for a possible match').selectOption('P-X');
    await person.getByRole('button', { name: 'Possible match' }).click();
    await first.page.locator('[data-subject="s0"]').getByText(/Rita named P-X: a second, different reviewer must agree/).waitFor();
    // the Series tab: one accepted case so far, so no series yet, said in words
    await first.page.getByRole('link', { name: 'Series', exact: true }).click();
    await first.page.getByText('No series: no two people in accepted cases look alike.').waitFor();
    expect(await a11y(first.context, `${base}/#series`, (p) => p.getByRole('heading', { name: 'Series' }).waitFor())).toEqual([]);
    await first.context.close();

    const second = await tablet();
    await logIn(second.page, 'Ravi', 'Cases');
    await second.page.getByText('Waiting for a second reviewer').waitFor();
    await second.page.getByRole('link', { name: /Review case CR\/2026\/0417/ }).click();
    const again = second.page.locator('[data-subject="s0"]');
    await again.getByLabel('Why (at least three words)').fill('same scar above the left eye');
    await again.getByRole('button', { name: 'Possible match' }).click();
    await second.page.locator('[data-subject="s0"]').getByText('Possible match with P-X, confirmed by two reviewers').waitFor();
    expect(auditRows(store, 'review.decided').map((r) => [r.actor_role, r.detail.decision, r.detail.crime_ref, r.detail.confirmed])).toEqual([
      ['reviewer', 'possible_match', CRIME_REF, null],
      ['reviewer', 'possible_match', CRIME_REF, 'P-X'],
    ]);
    expect(auditRows(store, 'face.viewed').some((r) => r.actor_role === 'reviewer' && r.detail.crime_ref === CRIME_REF), 'the reviewers\' looks at faces are audited').toBe(true);
    await second.context.close();
  });

  it('the supervisor downloads the case report', async () => {
    const { context, page } = await tablet();
    await logIn(page, 'Sam', 'Triage');
    await page.getByRole('link', { name: 'Cases' }).click();
    await page.getByText('Possible match confirmed').waitFor();
    await page.getByRole('link', { name: /Review case CR\/2026\/0417/ }).click();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download case report' }).click()]);
    expect(download.suggestedFilename()).toBe('case-CR-2026-0417-inc-till.html');
    const html = readFileSync((await download.path())!, 'utf8');
    expect(html).toContain(`Case report: ${CRIME_REF}`);
    expect(html).toContain('Possible match with P-X, confirmed by two reviewers.');
    expect(auditRows(store, 'case.exported')).toMatchObject([{ actor_role: 'supervisor', detail: { crime_ref: CRIME_REF } }]);

    // the case's master clips: the one the force holds is downloaded; the box is asked to keep them, with a reason
    const masters = page.locator('#masters');
    await masters.getByRole('heading', { name: 'Master clips' }).waitFor();
    const [clip] = await Promise.all([page.waitForEvent('download'), masters.getByRole('link', { name: /^Download/ }).click()]);
    const named = (auditRows(store, 'evidence.master_exported').at(-1)?.sha256s ?? [])[0];
    expect(createHash('sha256').update(readFileSync((await clip.path())!)).digest('hex')).toBe(named);
    await masters.getByRole('button', { name: 'Keep them on the box for a year' }).click();
    await masters.getByText('Say why, in at least three words').waitFor();
    await masters.getByLabel(/Why \(at least three words/).fill('needed for the court file');
    await masters.getByRole('button', { name: 'Keep them on the box for a year' }).click();
    await masters.getByText('Keep them on the box for a year: sent, waiting for the box...').waitFor();
    await screenshot(page, 'force-case-masters');
    expect(auditRows(store, 'fleet.command_issued').at(-1)).toMatchObject({ actor_role: 'supervisor', justification: `${CRIME_REF}: needed for the court file`, detail: { op: 'hold_incident' } });
    await context.close();
    expect(errors.flat(), 'no script error or CSP violation on any page').toEqual([]);
  });
});
