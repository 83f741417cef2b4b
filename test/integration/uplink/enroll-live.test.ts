import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLines, runCli, startDaemon, writeConfig } from '../../helpers/cli.js';
import { query, startForceKit, type ForceKit } from '../../helpers/evidence.js';
import { tempDir } from '../../helpers/paths.js';
import type { TestProcess } from '../../helpers/process.js';

/**
 * Enrolling a box whose daemon already runs: the CLI hands the bundle to the daemon (the single writer),
 * which installs it and connects to the force at once; no restart, and the audit names the operator.
 */
describe('enroll while the daemon runs', () => {
  let kit: ForceKit;
  let dir: string;
  let boxConfig: string;
  let daemon: TestProcess;

  beforeAll(async () => {
    dir = tempDir('hs-enroll-live-');
    kit = await startForceKit(dir, { devices: [{ id: 'box-1', store: 'High Street' }] });
    boxConfig = writeConfig(dir, { device: { id: 'box-1', store: 'High Street' } });
    daemon = startDaemon(boxConfig);
    await daemon.waitForLine(/"msg":"hindsight running"/, 30_000);
  });
  afterAll(async () => {
    await daemon?.stop();
    await kit?.broker.stop();
  });

  it('installs the bundle through the daemon, which connects without a restart', async () => {
    expect(jsonLines(daemon.lines).some((l) => /not enrolled/.test(String(l.msg)))).toBe(true);
    const bad = await runCli(['enroll', path.join(dir, 'missing.json'), '--config', boxConfig]);
    expect([bad.code, bad.stderr]).toEqual([1, expect.stringMatching(/cannot read enrollment bundle .*missing\.json: no such file/)]);

    const r = await runCli(['enroll', kit.bundle('box-1'), '--config', boxConfig]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('the running daemon connects to the force now.');
    await daemon.waitForLine(/mqtt connected/, 30_000);
    expect(daemon.child.running).toBe(true);
    const rows = query<{ actor_type: string; actor_id: string }>(path.join(dir, 'state', 'hindsight.db'), "SELECT actor_type, actor_id FROM audit WHERE action = 'uplink.enrolled'");
    expect(rows).toHaveLength(1);
    expect(rows[0]!.actor_type).toBe('cli');
    expect(rows[0]!.actor_id).not.toBe('enroll'); // the operator's login name, as sent by the CLI
  });
});
