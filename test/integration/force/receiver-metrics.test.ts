import http from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startForceKit, type ForceKit } from '../../../daemon/src/devkit/force.js';
import { SimulatedBox } from '../../../daemon/src/devkit/evidence-box.js';
import { forcePaths } from '../../../daemon/src/force/paths.js';
import { runCommand } from '../../../daemon/src/util/child.js';
import { CLI, tempDir } from '../../helpers/paths.js';
import { query } from '../../helpers/evidence.js';
import { parseExposition, sampleValue, type Sample } from '../../helpers/prometheus.js';
import { TestProcess } from '../../helpers/process.js';
import { waitFor } from '../../helpers/wait.js';

const CAP = 4 * 1024 * 1024;

/** GET over plain HTTP: the status and the body. */
function get(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      })
      .on('error', reject);
  });
}

/** The force kit's config with the intake's cap and `metrics_listen`. */
function setListen(kit: ForceKit, listen: string): void {
  const config = parse(readFileSync(kit.forceConfig, 'utf8')) as Record<string, unknown>;
  writeFileSync(kit.forceConfig, stringify({ ...config, intake: { max_bytes_in_flight: CAP, metrics_listen: listen } }), { mode: 0o600 });
}

describe("the force receiver's own metrics on a loopback address", () => {
  let kit: ForceKit;
  let receiver: TestProcess;
  let box: SimulatedBox;
  let url: string;
  const scrape = async (): Promise<Sample[]> => {
    const answer = await get(url);
    expect(answer.status, answer.text).toBe(200);
    return parseExposition(answer.text);
  };

  beforeAll(async () => {
    const dir = tempDir('hs-receiver-metrics-');
    kit = await startForceKit(dir, { devices: [{ id: 'box-a', store: 'High Street' }] });
    setListen(kit, '127.0.0.1:0');
    receiver = new TestProcess(process.execPath, [CLI, 'force', 'receive', '--config', kit.forceConfig]);
    const m = await receiver.waitForLine(/"metrics":"(http:\/\/127\.0\.0\.1:\d+\/metrics)"/, 30_000);
    url = m[1]!;
    await receiver.waitForLine(/receiving evidence/, 30_000);
    box = await SimulatedBox.connect(kit, 'box-a');
  }, 120_000);

  afterAll(async () => {
    await box?.close();
    await receiver?.stop();
    await kit?.broker.stop();
  });

  it('counts the evidence it takes and how the intake ended, with its gate and broker link', async () => {
    const before = await scrape();
    expect(sampleValue(before, 'hindsight_force_receiver_broker_connected')).toBe(1);
    expect(sampleValue(before, 'hindsight_force_receiver_bytes_in_flight_cap')).toBe(CAP);
    const p = await box.samplePackage(path.join(kit.forceDir, '..', 'packages'), 100_000);
    const sent = await box.send(p.plaintext, p.incidentId);
    await box.complete(sent.id, 60_000);
    // a message that is no envelope: refused
    await box.client.publishAsync(`${kit.prefix}/box-a/ev/not-an-envelope/m`, 'not json', { qos: 1 });
    await waitFor(() => query<{ n: number }>(forcePaths(kit.forceDir).db, 'SELECT count(*) AS n FROM rejections')[0]!.n > 0, { timeoutMs: 30_000, what: 'the rejection recorded' });
    const s = await scrape();
    const chunks = query<{ n: number }>(forcePaths(kit.forceDir).db, `SELECT n_chunks AS n FROM envelopes WHERE envelope_id = '${sent.id}'`)[0]!.n;
    expect(sampleValue(s, 'hindsight_force_receiver_evidence_total', { outcome: 'stored' })).toBe(1);
    expect(sampleValue(s, 'hindsight_force_receiver_evidence_total', { outcome: 'rejected' })).toBe(1);
    // the manifest, each chunk and the refused message
    expect(sampleValue(s, 'hindsight_force_receiver_messages_total', { kind: 'evidence' })).toBe(chunks + 2);
    expect(sampleValue(s, 'hindsight_force_receiver_bytes_in_flight')).toBe(0);
    expect(sampleValue(s, 'hindsight_force_receiver_paused')).toBe(0);
    expect(sampleValue(s, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect((await get(url.replace('/metrics', '/other'))).status).toBe(404);
  }, 120_000);

  it('refuses to start on an address other machines could reach, saying what to give', async () => {
    setListen(kit, '0.0.0.0:9464');
    const r = await runCommand(process.execPath, [CLI, 'force', 'receive', '--config', kit.forceConfig], { timeoutMs: 60_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('intake.metrics_listen "0.0.0.0:9464" is not a loopback address and port');
    expect(r.stderr).toContain('127.0.0.1:PORT');
  }, 60_000);
});
