import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startForceKit, type ForceKit } from '../../../daemon/src/devkit/force.js';
import { prepareBox } from '../../helpers/chain.js';
import { startDaemon, writeConfig } from '../../helpers/cli.js';
import { makeTestVideo } from '../../helpers/media.js';
import type { RtspTestCamera } from '../../helpers/rtsp-camera.js';
import type { TestProcess } from '../../helpers/process.js';
import { NotifySocket } from '../../helpers/notify-socket.js';
import { tempDir } from '../../helpers/paths.js';
import { WEB_TEST_CONFIG, WebClient, webOf } from '../../helpers/web.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * The systemd watchdog as a real unit would run it: NOTIFY_SOCKET and WATCHDOG_USEC set, the daemon's
 * own `systemd-notify` calls, a datagram socket where systemd would listen. The daemon is fed only while
 * it is healthy: with its database locked by another process (it takes no write), WATCHDOG=1 stops and
 * STATUS says why; once released, it is fed again.
 */
describe('systemd watchdog: fed only while the daemon is healthy', () => {
  let dir: string;
  let notify: NotifySocket;
  let daemon: TestProcess;
  let client: WebClient;

  beforeAll(async () => {
    dir = tempDir('hs-watchdog-');
    notify = new NotifySocket(dir);
    await notify.start();
    const config = writeConfig(dir, WEB_TEST_CONFIG);
    // a 2 s watchdog: checked every second
    daemon = startDaemon(config, { NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: '2000000' });
    const web = await webOf(daemon, path.join(dir, 'state'));
    client = new WebClient(web.port, web.ca);
    await daemon.waitForLine(/"msg":"hindsight running"/, 60_000);
  }, 90_000);
  afterAll(async () => {
    await daemon?.stop();
    notify?.stop();
  });

  it('READY=1 once up, then WATCHDOG=1 about every second', async () => {
    await waitFor(() => notify.lines().filter((l) => l === 'WATCHDOG=1').length >= 3, { timeoutMs: 15_000, what: 'three watchdog pings' });
    const lines = notify.lines();
    expect(lines.indexOf('READY=1')).toBeGreaterThanOrEqual(0);
    expect(lines).toContain('STATUS=recording and waiting for incidents');
    expect(lines.some((l) => l.startsWith('MAINPID='))).toBe(true);
    // the same verdict over HTTP, for a supervisor or a load balancer (no login, a word only)
    expect(await client.get('/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await client.get('/readyz')).toMatchObject({ status: 200, body: { status: 'ready' } });
  }, 30_000);

  it('a database that takes no write: no WATCHDOG=1 while it lasts, STATUS and the log say why; released, fed again', async () => {
    const lock = new Database(path.join(dir, 'state', 'hindsight.db'));
    lock.pragma('busy_timeout = 10000');
    lock.exec('BEGIN EXCLUSIVE');
    const lockedAt = Date.now();
    try {
      await waitFor(() => notify.lines().some((l) => l.startsWith('STATUS=unhealthy: the database takes no write')), { timeoutMs: 30_000, what: 'STATUS unhealthy' });
      await daemon.waitForLine(/unhealthy, the watchdog is not fed/, 10_000);
      const probe = await client.get('/healthz');
      expect(probe).toMatchObject({ status: 503, body: { status: 'unhealthy' } });
      expect(JSON.stringify(probe.body)).not.toMatch(/database/);
      // hold the lock a while longer: nothing feeds the watchdog meanwhile
      const mark = notify.messages.length;
      await new Promise((r) => setTimeout(r, 4000));
      const during = notify.messages.slice(mark).flatMap((m) => m.lines);
      expect(during).not.toContain('WATCHDOG=1');
    } finally {
      lock.exec('COMMIT');
      lock.close();
    }
    const released = Date.now();
    await waitFor(() => notify.messages.some((m) => m.atMs >= released && m.lines.includes('WATCHDOG=1')), { timeoutMs: 20_000, what: 'the watchdog fed again' });
    await daemon.waitForLine(/healthy again: the watchdog is fed/, 10_000);
    expect(notify.messages.some((m) => m.atMs >= released && m.lines.includes('STATUS=recording and waiting for incidents'))).toBe(true);
    expect(await client.get('/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(Date.now() - lockedAt).toBeGreaterThan(4000);
  }, 90_000);
});

/**
 * An outage outside the box (its camera and the broker down) is not the daemon's ill health: the watchdog
 * goes on being fed, so systemd does not restart the box in a loop while it waits for them. (A minute
 * with a 2 s watchdog here: 30 intervals; the 10-minute outage runs in the soak benchmark.)
 */
describe('systemd watchdog: fed through an outage of the camera and the broker', () => {
  let dir: string;
  let notify: NotifySocket;
  let daemon: TestProcess | undefined;
  let kit: ForceKit | undefined;
  let camera: RtspTestCamera | undefined;

  beforeAll(async () => {
    dir = tempDir('hs-watchdog-outage-');
    notify = new NotifySocket(dir);
    await notify.start();
    const video = await makeTestVideo(path.join(dir, 'cam.ts'), { seconds: 20, width: 320, height: 240, fps: 10 });
    kit = await startForceKit(dir, { devices: [{ id: 'box-1', store: 'High Street' }] });
    const box = await prepareBox(kit, dir, { deviceId: 'box-1', store: 'High Street', cameraId: 'till2', zone: 'tills', video });
    camera = box.camera;
    daemon = startDaemon(box.config, { NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: '2000000' });
    await daemon.waitForLine(/"msg":"hindsight running"/, 60_000);
    await daemon.waitForLine(/"msg":"mqtt connected"/, 30_000);
  }, 120_000);
  afterAll(async () => {
    await daemon?.stop();
    await camera?.stop();
    await kit?.broker.stop();
    notify?.stop();
  });

  it('with the camera and the broker gone for a minute, WATCHDOG=1 keeps coming about every second', async () => {
    await camera!.stop();
    await kit!.broker.stop();
    const from = Date.now();
    await new Promise((r) => setTimeout(r, 60_000));
    const pings = notify.messages.filter((m) => m.atMs >= from && m.lines.includes('WATCHDOG=1')).map((m) => m.atMs);
    expect(pings.length).toBeGreaterThanOrEqual(45);
    const gaps = pings.slice(1).map((t, i) => t - pings[i]!);
    // never a whole watchdog interval (2 s) without a ping
    expect(Math.max(...gaps)).toBeLessThan(2000);
    expect(notify.lines().some((l) => l.startsWith('STATUS=unhealthy'))).toBe(false);
    // the daemon saw the outage (and says so in its own ways: a camera alarm, the uplink retrying)
    expect(daemon!.lines.join('\n')).toMatch(/till2/);
  }, 120_000);
});
