import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startDaemon } from '../../helpers/cli.js';
import { rewriteAuditRow } from '../../helpers/audit-tamper.js';
import { fleetLine, startHeadsChain, type Chain } from '../../helpers/chain.js';
import { tempDir } from '../../helpers/paths.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * The force checks a real box's audit log through its heads over the real broker: a log that grows is
 * acknowledged; the same log with a row rewritten and every later row re-hashed (it verifies again on the
 * box) is flagged by the force on the box's next head, and `fleet list` says ALARM.
 */
describe("fleet: the force checks every box's audit log", () => {
  let dir: string;
  let chain: Chain;
  const box = () => fleetLine(chain.kit);

  beforeAll(async () => {
    dir = tempDir('hs-heads-');
    chain = await startHeadsChain(dir);
  }, 120_000);
  afterAll(async () => {
    await chain?.stop();
  });

  it('acknowledges a log that grew; flags one rewritten and re-hashed on the box', async () => {
    await waitFor(async () => (await box()).audit?.status === 'baseline', { timeoutMs: 30_000, what: "the force's first head of box-1" });
    const first = (await box()).audit!.count;
    const ping = await runCli(['force', 'fleet', 'cmd', 'box-1', 'ping', '--config', chain.kit.forceConfig]);
    expect(ping.code, ping.stderr).toBe(0);
    await waitFor(async () => (await box()).audit?.status === 'extended', { timeoutMs: 30_000, what: 'a later head that extends it' });
    const acked = (await box()).audit!.count;
    expect(acked).toBeGreaterThan(first);

    await chain.daemon.stop();
    const db = new Database(path.join(chain.stateDir, 'hindsight.db'));
    try {
      rewriteAuditRow(db, 2, { rewritten: true });
    } finally {
      db.close();
    }
    // on the box the log verifies: only the force can tell
    const verify = await runCli(['audit', 'verify', '--config', chain.boxConfig]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    chain.daemon = startDaemon(chain.boxConfig);
    await chain.daemon.waitForLine(/"msg":"hindsight running"/, 60_000);
    await waitFor(async () => (await box()).audit?.status === 'alarm', { timeoutMs: 30_000, what: 'the alarm on the next head' });
    expect((await box()).audit!.alarm).toMatch(/^rewritten/);
    const table = await runCli(['force', 'fleet', 'list', '--config', chain.kit.forceConfig]);
    expect(table.stdout).toMatch(/box-1 .* ALARM/);
    expect(chain.receiver.output).toMatch(/AUDIT LOG OF BOX box-1 FAILS ITS CHECK/);
  }, 180_000);
});
