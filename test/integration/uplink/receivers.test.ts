import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify, parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { startDaemon, writeConfig } from '../../helpers/cli.js';
import { enrollBox, makePackageFolder, query, startForceKit, type ForceKit } from '../../helpers/evidence.js';
import { CLI, tempDir } from '../../helpers/paths.js';
import { TestProcess } from '../../helpers/process.js';
import { sealFolder } from '../../helpers/uplink.js';
import { waitFor } from '../../helpers/wait.js';

describe('two force receivers on one MQTT 5 shared subscription', () => {
  let kit: ForceKit;
  const procs: TestProcess[] = [];
  afterAll(async () => {
    for (const p of procs) await p.stop();
    await kit?.broker.stop();
  });

  it('share the messages and store every incident exactly once', async () => {
    const dir = tempDir('hs-receivers-');
    const second = { username: 'svc.force-2', password: 'second-receiver-password-1' };
    kit = await startForceKit(dir, { devices: [{ id: 'box-s', store: 'Shared' }], forceUsers: [second] });
    const base = parse(readFileSync(kit.forceConfig, 'utf8')) as Record<string, Record<string, unknown>>;
    const configs = [
      { ...base, log: { level: 'debug', pretty: false } },
      { ...base, mqtt: { ...base.mqtt, username: second.username, password: second.password, password_file: undefined }, log: { level: 'debug', pretty: false } },
    ].map((c, i) => {
      const file = path.join(kit.forceDir, `receiver-${i}.yaml`);
      writeFileSync(file, stringify(JSON.parse(JSON.stringify(c))));
      return file;
    });
    for (const c of configs) {
      const p = new TestProcess(process.execPath, [CLI, 'force', 'receive', '--config', c]);
      procs.push(p);
      await p.waitForLine(/receiving evidence/, 30_000);
    }
    mkdirSync(path.join(dir, 'box'), { recursive: true });
    const boxConfig = writeConfig(path.join(dir, 'box'), { device: { id: 'box-s', store: 'Shared' }, uplink: { receipt_timeout_s: 6, retry_min_ms: 200, retry_max_ms: 2000 } });
    enrollBox(boxConfig, kit.bundle('box-s'), kit.forceDir);
    const daemon = startDaemon(boxConfig);
    procs.push(daemon);
    await daemon.waitForLine(/mqtt connected/, 30_000);
    const envelopes: string[] = [];
    for (let i = 0; i < 4; i++) envelopes.push(await sealFolder(boxConfig, (await makePackageFolder(path.join(dir, `p${i}`), { padBytes: 300_000 })).dir, `inc-shared-${i}`));
    const boxDb = path.join(dir, 'box', 'state', 'hindsight.db');
    await waitFor(() => query<{ n: number }>(boxDb, "SELECT COUNT(*) AS n FROM outbox WHERE state = 'delivered'")[0]!.n === 4, { timeoutMs: 120_000, what: 'four delivered' });
    const stored = query<{ incident_id: string; n: number }>(path.join(kit.forceDir, 'force.db'), 'SELECT incident_id, COUNT(*) AS n FROM incidents GROUP BY incident_id ORDER BY incident_id');
    expect(stored).toEqual([0, 1, 2, 3].map((i) => ({ incident_id: `inc-shared-${i}`, n: 1 })));
    for (const p of procs.slice(0, 2)) expect(p.lines.filter((l) => l.includes('"msg":"evidence message"')).length).toBeGreaterThan(0);
  });
});
