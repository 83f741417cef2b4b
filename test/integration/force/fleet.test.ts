import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetBox } from '../../../daemon/src/force/db/fleet.js';
import { runCli, startDaemon } from '../../helpers/cli.js';
import { startChain, type Chain } from '../../helpers/chain.js';
import { makeTestVideo } from '../../helpers/media.js';
import { tempDir } from '../../helpers/paths.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * The fleet view with the real broker (TLS, generated ACL): a box says it is online at every connect with
 * its health document, offline at a clean stop, and its last will says offline when it dies.
 */
describe('fleet: presence and health of every box at the force', () => {
  let dir: string;
  let chain: Chain;
  const fleet = async (): Promise<FleetBox[]> => {
    const r = await runCli(['force', 'fleet', 'list', '--json', '--config', chain.kit.forceConfig]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as FleetBox[];
  };
  const box = async (): Promise<FleetBox | undefined> => (await fleet()).find((b) => b.deviceId === 'box-1');

  beforeAll(async () => {
    dir = tempDir('hs-fleet-');
    const video = await makeTestVideo(path.join(dir, 'cam.ts'), { seconds: 60, width: 320, height: 240, fps: 10 });
    // a short keepalive: the broker gives the last will ~1.5 keepalives after the box dies
    chain = await startChain(dir, video, { uplink: { keepalive_s: 5, health_interval_s: 5 } });
  }, 120_000);
  afterAll(async () => {
    await chain?.stop();
  });

  it('a box is online with its health (cameras, disk, incidents, models), offline at a clean stop, online again with a new life', async () => {
    let first: FleetBox | undefined;
    await waitFor(async () => ((first = await box())?.state === 'online' && first!.health !== null), { timeoutMs: 30_000, what: 'box-1 online with its health' });
    const h = first!.health as { cameras: { id: string; state: string }[]; disk: { free_bytes: number | null }; incidents: { open: number; failed: number }; models: { name: string; sha256: string }[]; cpu: { load_pct: number }; outbox: { pending: number }; version: string };
    expect(h.cameras.map((c) => c.id)).toEqual(['till2']);
    expect(h.disk.free_bytes).toBeGreaterThan(0);
    expect(h.incidents).toEqual({ open: 0, failed: 0 });
    expect(h.models.map((m) => m.name).sort()).toEqual(['detector', 'embedder', 'landmarks']);
    expect(typeof h.cpu.load_pct).toBe('number');
    expect(h.outbox.pending).toBe(0);
    // a new installation's key set is good for a year: no "key set expiring" alarm from the start
    expect(((first!.health as { alarms?: { kind: string }[] }).alarms ?? []).map((a) => a.kind)).not.toContain('uplink.keyset_expiring');
    // every few seconds (health_interval_s 5) a new one: the camera is seen recording
    await waitFor(async () => ((await box())?.health as typeof h | null)?.cameras[0]?.state === 'recording', { timeoutMs: 30_000, what: 'a later health document with the camera recording' });

    const listed = await runCli(['force', 'fleet', 'list', '--config', chain.kit.forceConfig]);
    expect(listed.stdout).toMatch(/box-1\s+High Street\s+online\s+\S+ \S+\s+\S+\s+\d+ s ago\s+1\/1/);

    await chain.daemon.stop();
    await waitFor(async () => (await box())?.state === 'offline', { timeoutMs: 20_000, what: 'box-1 offline after its clean stop' });
    const stopped = (await box())!;
    expect(stopped.sinceUtc).toBeGreaterThanOrEqual(first!.sinceUtc);

    chain.daemon = startDaemon(chain.boxConfig);
    await chain.daemon.waitForLine(/"msg":"hindsight running"/, 60_000);
    await waitFor(async () => (await box())?.state === 'online', { timeoutMs: 30_000, what: 'box-1 online again' });
    const again = (await box())!;
    expect(again.bootId).not.toBe(first!.bootId);
    expect(again.bdSeq).toBe(first!.bdSeq + 1);
  }, 150_000);

  it('a box that dies (kill -9) is marked offline by its last will', async () => {
    chain.daemon.child.proc.kill('SIGKILL');
    await waitFor(async () => (await box())?.state === 'offline', { timeoutMs: 30_000, what: 'the last will: box-1 offline' });
    const show = await runCli(['force', 'fleet', 'show', 'box-1', '--config', chain.kit.forceConfig]);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({ deviceId: 'box-1', state: 'offline' });
    const unknown = await runCli(['force', 'fleet', 'show', 'box-9', '--config', chain.kit.forceConfig]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/box "box-9" has not reported/);
  }, 60_000);
});
