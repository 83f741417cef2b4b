import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startDaemon, writeConfig } from '../../helpers/cli.js';
import { haveChromium, launchChromium, liveFfmpegs as liveFfmpegsOf, pageErrors, screenshot, setUpFirstManager } from '../../helpers/browser.js';
import { tempDir } from '../../helpers/paths.js';
import type { TestProcess } from '../../helpers/process.js';
import { startCamera } from '../../helpers/rtsp-camera.js';
import { WEB_TEST_CONFIG, webOf } from '../../helpers/web.js';

const PASSWORD = 'four unrelated words here';

describe.skipIf(!haveChromium())('live view of an H.265 camera in a browser', () => {
  const dir = tempDir();
  let daemon: TestProcess;
  let camera: Awaited<ReturnType<typeof startCamera>>;
  let browser: Browser;
  let base: string;
  let setupCode: string;

  beforeAll(async () => {
    // wider than the transcode's 640 px, at 10 fps: what the browser gets is scaled down, every frame kept
    camera = await startCamera({ codec: 'h265', width: 960, height: 540, fps: 10, gop: 10 });
    const config = writeConfig(dir, { ...WEB_TEST_CONFIG, cameras: { networks: ['127.0.0.0/8'] }, recorder: { segment_seconds: 2 } });
    const add = await runCli(['camera', 'add', '--config', config, '--id', 'back-door', '--name', 'Back door', '--zone', 'Stock room', '--url', camera.url]);
    expect(add.code, add.stderr).toBe(0);
    daemon = startDaemon(config);
    const web = await webOf(daemon, path.join(dir, 'state'));
    base = `https://localhost:${web.port}`;
    setupCode = web.setupCode!;
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await daemon?.stop();
    await camera?.stop();
  });

  const liveFfmpegs = (): string[] => liveFfmpegsOf(daemon.pid!);

  /** Open the live view and note every live ffmpeg seen until the page says Live (bounded by the wait). */
  const openLive = async (page: Page): Promise<string[]> => {
    const seen = new Set<string>();
    const card = page.locator('[data-camera="back-door"]');
    await card.getByRole('button', { name: 'Live' }).click();
    const live = page.getByRole('status').filter({ hasText: /^Live$/ });
    for (let i = 0; i < 300 && !(await live.isVisible()); i++) {
      for (const c of liveFfmpegs()) seen.add(c);
      await page.waitForTimeout(100);
    }
    await live.waitFor({ timeout: 1000 });
    for (const c of liveFfmpegs()) seen.add(c);
    return [...seen];
  };

  const framesDecoded = (page: Page): Promise<number> => page.evaluate(() => document.querySelector('video')?.getVideoPlaybackQuality().totalVideoFrames ?? 0);

  it('shows the camera as a small H.264 transcode, remembered for the next view, stopped when nobody watches', async () => {
    const context = await browser.newContext({ viewport: { width: 1024, height: 768 }, ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const errors = pageErrors(page);
    await setUpFirstManager(page, base, setupCode, PASSWORD);
    // the cameras are on the console's Cameras tab (its own address)
    await page.goto(`${base}/#cameras`);
    await page.locator('[data-camera="back-door"]').waitFor({ timeout: 15_000 });

    // first view: the copy shows the camera sends H.265, so the live view becomes a transcode
    const first = await openLive(page);
    await page.waitForFunction(() => (document.querySelector('video')?.getVideoPlaybackQuality().totalVideoFrames ?? 0) > 0, undefined, { timeout: 15_000 });
    const before = await framesDecoded(page);
    await page.waitForTimeout(5000);
    const decoded = (await framesDecoded(page)) - before;
    console.log(JSON.stringify({ h265LiveFramesDecodedIn5s: decoded }));
    expect(decoded, 'frames decoded in 5 s of live view').toBeGreaterThanOrEqual(20);
    const size = await page.evaluate(() => ({ width: document.querySelector('video')!.videoWidth, height: document.querySelector('video')!.videoHeight }));
    expect(size, 'scaled to at most 640 px wide, the aspect kept').toEqual({ width: 640, height: 360 });
    const live = liveFfmpegs();
    expect(live, 'one live-view ffmpeg').toHaveLength(1);
    expect(live[0], 'a transcode to H.264').toMatch(/-c:v libx264 /);
    expect(live[0]).toMatch(/-preset ultrafast -tune zerolatency -threads 1/);
    expect(live[0], 'scaled down, at most 10 fps').toMatch(/-vf fps=10,scale='trunc\(min\(640,iw\)\/2\)\*2':-2/);
    expect(first.some((c) => / -c:v copy /.test(c)), 'the first view found the codec from a stream copy').toBe(true);
    expect(daemon.lines.filter((l) => l.includes('live view of camera back-door is transcoded because its codec is H.265'))).toHaveLength(1);
    await screenshot(page, 'manager-live-h265-tablet');
    await page.getByRole('button', { name: 'Close live view' }).click();
    await page.waitForTimeout(5000);
    expect(liveFfmpegs(), 'no live-view process 5 s after the last viewer left').toEqual([]);

    // the next view starts straight as a transcode: no stream copy is tried again
    const second = await openLive(page);
    expect(second.length, 'a live-view ffmpeg was seen').toBeGreaterThanOrEqual(1);
    expect(second.filter((c) => / -c:v copy /.test(c)), 'no copy tried on the second view').toEqual([]);
    await page.waitForFunction(() => (document.querySelector('video')?.getVideoPlaybackQuality().totalVideoFrames ?? 0) > 0, undefined, { timeout: 15_000 });
    await page.getByRole('button', { name: 'Close live view' }).click();
    await page.waitForTimeout(5000);
    expect(liveFfmpegs(), 'no live-view process 5 s after the last viewer left').toEqual([]);
    expect(errors, 'no script error or CSP violation on the page').toEqual([]);
    await context.close();
  }, 120_000);
});
