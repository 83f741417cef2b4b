import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO_ROOT } from './paths.js';
import { descendants } from './process.js';

/** Debian's Chromium (installed by the setup script). */
export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = path.join(REPO_ROOT, 'test-results', 'screenshots');

export function haveChromium(): boolean {
  return existsSync(CHROMIUM);
}

export async function launchChromium(): Promise<Browser> {
  // --no-sandbox: Chromium refuses its own sandbox when run as root (CI runs as root)
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** Script errors and console errors of a page (a CSP violation or a failed request shows here), as they come. */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  return errors;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

export interface AxeFinding {
  id: string;
  impact: string | null;
  help: string;
  nodes: number;
}

/** axe-core's serious and critical findings on the page as it is (the context must bypass the CSP to inject it). */
export async function seriousA11yProblems(page: Page): Promise<AxeFinding[]> {
  await page.addScriptTag({ path: axePath });
  const found = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: (ctx: unknown, opts: unknown) => Promise<{ violations: { id: string; impact: string | null; help: string; nodes: unknown[] }[] }> } }).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length }));
  });
  return found.filter((f) => f.impact === 'serious' || f.impact === 'critical');
}

/** Visible controls smaller than `min` CSS pixels either way (tap targets for gloved hands). */
export async function smallControls(page: Page, min = 48): Promise<string[]> {
  return page.$$eval(
    'button, input, textarea, select, a[href]',
    (els, m) =>
      els
        .filter((e) => (e as HTMLElement).offsetParent !== null)
        .map((e) => ({ e, r: e.getBoundingClientRect() }))
        .filter(({ r }) => r.width < m || r.height < m)
        .map(({ e, r }) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''} "${(e.textContent ?? '').trim().slice(0, 30)}" ${Math.round(r.width)}x${Math.round(r.height)}`),
    min,
  );
}

/** The box's first manager, made from the setup code on the setup page; ends on the console's Incidents tab. */
export async function setUpFirstManager(page: Page, base: string, setupCode: string, password: string, name = 'Maria'): Promise<void> {
  await page.goto(base);
  await page.getByRole('heading', { name: 'Set up this box' }).waitFor();
  await page.getByLabel('Setup code').fill(setupCode);
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel(/^Password/).fill(password);
  await page.getByRole('button', { name: 'Make the manager account' }).click();
  await page.getByRole('heading', { name: 'Incidents', exact: true }).waitFor();
}

/** The command lines of a daemon's live-view ffmpegs (the ffmpeg itself, not the sandbox that starts it). */
export function liveFfmpegs(daemonPid: number): string[] {
  return descendants(daemonPid)
    .map((p) => {
      try {
        if (readFileSync(`/proc/${p}/comm`, 'utf8').trim() !== 'ffmpeg') return '';
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ');
      } catch {
        return ''; // it ended meanwhile
      }
    })
    .filter((c) => c.includes('frag_keyframe'));
}
