import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetCommand } from '../../../daemon/src/force/db/commands.js';
import { uplinkFiles } from '../../../daemon/src/uplink/enrollment.js';
import { runCli, startDaemon } from '../../helpers/cli.js';
import { startChain, type Chain } from '../../helpers/chain.js';
import { readDb, waitForFootage, waitForState } from '../../helpers/incidents.js';
import { makeTestVideo } from '../../helpers/media.js';
import { tempDir } from '../../helpers/paths.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * `wipe`, for a stolen box, over the whole chain (its own: the other tests' box is untouched): the force
 * signs it with a fresh nonce of the box, the box answers, stops, and destroys its key, enrollment,
 * footage, evidence and outbox; the audit log stays, verifies and records it. Started again, the box runs
 * but is no longer enrolled.
 */
describe('fleet: wipe a stolen box', () => {
  let dir: string;
  let chain: Chain;
  let incident: string;
  const cli = (args: string[]) => runCli(['force', 'fleet', ...args, '--config', chain.kit.forceConfig]);
  const cmd = async (op: string, ...rest: string[]): Promise<FleetCommand> => {
    const r = await cli(['cmd', 'box-1', op, ...rest, '--json']);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as FleetCommand[])[0]!;
  };
  const count = (table: string): number => {
    const db = readDb(chain.stateDir);
    try {
      return (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    } finally {
      db.close();
    }
  };
  const files = (p: string): string[] => (existsSync(p) ? readdirSync(p, { recursive: true }).map(String) : []);

  beforeAll(async () => {
    dir = tempDir('hs-wipe-');
    const video = await makeTestVideo(path.join(dir, 'cam.ts'), { seconds: 60, width: 320, height: 240, fps: 10 });
    chain = await startChain(dir, video);
    await waitFor(async () => (await cli(['list', '--json'])).stdout.includes('"online"'), { timeoutMs: 30_000, what: 'box-1 online' });
    // footage, and an incident's master clip and sealed evidence
    await waitForFootage(chain.stateDir, ['till2'], 20);
    const logged = await runCli(['incident', 'log', '--config', chain.boxConfig, '--json', '--at', new Date(Date.now() - 7000).toISOString(), '--before', '10', '--after', '5', '--camera', 'till2', '--reason', 'theft', '--justification', 'took a bottle from the shelf']);
    expect(logged.code, logged.stderr).toBe(0);
    incident = (JSON.parse(logged.stdout) as { id: string }).id;
    await waitForState(chain.stateDir, incident, ['sealed', 'delivered', 'failed'], 180_000);
  }, 300_000);
  afterAll(async () => {
    await chain?.stop();
  });

  it('the box answers, stops and destroys its key, enrollment, footage, evidence and outbox; the audit log stays and says so', async () => {
    const evidenceDir = path.join(chain.stateDir, 'evidence');
    const bufferDir = path.join(chain.stateDir, 'buffer');
    const key = uplinkFiles(chain.stateDir).deviceKey;
    expect(existsSync(key)).toBe(true);
    expect(files(path.join(bufferDir, 'till2')).some((f) => f.endsWith('.ts'))).toBe(true);
    expect(files(path.join(evidenceDir, incident)).length).toBeGreaterThan(0);
    expect(count('segments')).toBeGreaterThan(0);
    expect(count('outbox')).toBeGreaterThan(0);

    // high risk: without a nonce of the box it is refused while the box's clock is not synchronised
    const status = await cmd('get_status');
    if (!(status.reply as { clock: { synced: boolean } }).clock.synced) {
      // queued without waiting, the CLI does not ask the box for a nonce first: the command goes bare
      const [queued] = JSON.parse((await cli(['cmd', 'box-1', 'wipe', '--arg', 'reason=stolen', '--no-wait', '--json'])).stdout) as FleetCommand[];
      let bare: FleetCommand | undefined;
      await waitFor(async () => ['failed', 'expired', 'done'].includes((bare = (JSON.parse((await cli(['commands', 'box-1', '--json'])).stdout) as FleetCommand[]).find((c) => c.cmdId === queued!.cmdId))?.status ?? ''), { timeoutMs: 20_000, what: "the box's answer to the bare wipe" });
      expect(bare!.error).toMatch(/^nonce: wipe needs a fresh nonce from this box/);
      expect(existsSync(key)).toBe(true);
    }
    const nonce = ((await cmd('get_nonce')).reply as { nonce: string }).nonce;
    const wipe = await cmd('wipe', '--arg', 'reason=box stolen from the shop', '--arg', `nonce=${nonce}`);
    expect(wipe).toMatchObject({ status: 'done', reply: { wiping: true } });

    const exit = await chain.daemon.child.exited;
    expect(exit.code).toBe(0);
    expect(chain.daemon.output).toMatch(/"msg":"wipe finished: this box is no longer enrolled"/);
    for (const f of Object.values(uplinkFiles(chain.stateDir))) expect(existsSync(f), f).toBe(false);
    expect(files(path.join(bufferDir, 'till2'))).toEqual([]);
    expect(files(path.join(evidenceDir, incident))).toEqual([]);
    for (const t of ['segments', 'outbox', 'outbox_chunks', 'web_sessions']) expect(count(t), t).toBe(0);

    const up = await runCli(['uplink', 'status', '--json', '--config', chain.boxConfig]);
    expect(up.code, up.stderr).toBe(0);
    expect(JSON.parse(up.stdout)).toMatchObject({ enrolled: false, outbox: { pending: 0 } });

    const verify = await runCli(['audit', 'verify', '--config', chain.boxConfig]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const rows = (await runCli(['audit', 'export', '--config', chain.boxConfig])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { seq: number; action: string; object_ids: string[]; actor: { type: string; role?: string } });
    const wiped = rows.find((r) => r.action === 'device.wiped');
    const done = rows.find((r) => r.action === 'device.wipe_completed');
    expect(wiped).toMatchObject({ object_ids: [wipe.cmdId], actor: { type: 'force', role: 'command-admin' } });
    expect(done).toMatchObject({ object_ids: [wipe.cmdId] });
    expect(done!.seq).toBeGreaterThan(wiped!.seq);

    // its service manager starts it again: it runs, not enrolled, and sends nothing
    chain.daemon = startDaemon(chain.boxConfig);
    await chain.daemon.waitForLine(/"msg":"hindsight running"/, 60_000);
    expect(chain.daemon.output).toMatch(/this box is not enrolled with a force/);
    expect(existsSync(key)).toBe(false);
  }, 180_000);
});
