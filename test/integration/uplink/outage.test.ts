import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, writeConfig } from '../../helpers/cli.js';
import { enrollBox, makePackageFolder, query, startForceKit, type ForceKit } from '../../helpers/evidence.js';
import { CLI, tempDir } from '../../helpers/paths.js';
import { TestProcess } from '../../helpers/process.js';
import { sealFolder } from '../../helpers/uplink.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * The broker is down for two minutes (the figure; HINDSIGHT_TEST_OUTAGE_S shortens it for a
 * quick local run) while three incidents are sealed: all three arrive once the broker is back, once each.
 */
const OUTAGE_S = Number(process.env.HINDSIGHT_TEST_OUTAGE_S ?? 120);

describe('uplink: broker outage', () => {
  let kit: ForceKit;
  let dir: string;
  let receiver: TestProcess;
  let daemon: TestProcess;

  beforeAll(async () => {
    dir = tempDir('hs-outage-');
    kit = await startForceKit(dir, { devices: [{ id: 'box-out', store: 'Outage Store' }] });
    mkdirSync(path.join(dir, 'box'), { recursive: true });
  });
  afterAll(async () => {
    await daemon?.stop();
    await receiver?.stop();
    await kit?.broker.stop();
  });

  it(`broker down for ${OUTAGE_S} s while 3 incidents are sealed: all delivered, no loss, no duplicates`, { timeout: (OUTAGE_S + 240) * 1000 }, async () => {
    const config = writeConfig(path.join(dir, 'box'), { device: { id: 'box-out', store: 'Outage Store' }, uplink: { receipt_timeout_s: 5, retry_min_ms: 500, retry_max_ms: 10_000, reconnect_ms: 1000 } });
    enrollBox(config, kit.bundle('box-out'), kit.forceDir);
    receiver = new TestProcess(process.execPath, [CLI, 'force', 'receive', '--config', kit.forceConfig]);
    await receiver.waitForLine(/receiving evidence/, 30_000);
    daemon = startDaemon(config);
    await daemon.waitForLine(/mqtt connected/, 30_000);

    await kit.broker.kill9();
    const started = Date.now();
    const envelopes: string[] = [];
    for (let i = 0; i < 3; i++) {
      const pkg = await makePackageFolder(path.join(dir, `pkg${i}`), { padBytes: 200_000 });
      envelopes.push(await sealFolder(config, pkg.dir, `inc-outage-${i}`));
    }
    const boxDb = path.join(dir, 'box', 'state', 'hindsight.db');
    expect(query<{ n: number }>(boxDb, "SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'")[0]!.n).toBe(3);
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_S * 1000 - (Date.now() - started))));
    expect(query<{ n: number }>(boxDb, "SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'")[0]!.n).toBe(3);
    await kit.broker.restart();

    const all = (): boolean => query<{ n: number }>(boxDb, "SELECT COUNT(*) AS n FROM outbox WHERE state = 'delivered'")[0]!.n === 3;
    await waitFor(all, { timeoutMs: 120_000, what: 'all three delivered after the outage' });
    const stored = query<{ incident_id: string; n: number }>(path.join(kit.forceDir, 'force.db'), 'SELECT incident_id, COUNT(*) AS n FROM incidents GROUP BY incident_id ORDER BY incident_id');
    expect(stored).toEqual([0, 1, 2].map((i) => ({ incident_id: `inc-outage-${i}`, n: 1 })));
  });
});
