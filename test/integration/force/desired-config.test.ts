import path from 'node:path';
import type mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readKeyFile, SIG_CONTEXT, signWith } from '../../../daemon/src/crypto/keys.js';
import type { BoxConfigView } from '../../../daemon/src/force/desired-config.js';
import { forcePaths } from '../../../daemon/src/force/paths.js';
import { canonicalBytes } from '../../../daemon/src/util/canonical.js';
import { runCli, startDaemon } from '../../helpers/cli.js';
import { startChain, type Chain } from '../../helpers/chain.js';
import { waitForFootage, waitForState } from '../../helpers/incidents.js';
import { makeTestVideo } from '../../helpers/media.js';
import { tempDir } from '../../helpers/paths.js';
import { connectAs } from '../../helpers/uplink.js';
import { waitFor } from '../../helpers/wait.js';

const OBSERVER = { username: 'svc.observer', password: 'observer-password-1234' };

/**
 * The force's desired configuration over the real broker: signed and versioned per box, published
 * retained by the receiver, applied by the box without a restart (its next incident obeys), refused whole
 * with every reason when invalid or not the force's, rolled back as a new version, converged on by a box
 * that was away; a group job says where each box stands.
 */
describe('fleet: desired and reported configuration', () => {
  let dir: string;
  let chain: Chain;
  const fleet = (args: string[]) => runCli(['force', 'fleet', ...args, '--config', chain.kit.forceConfig]);
  const view = async (box = 'box-1'): Promise<BoxConfigView> => {
    const r = await fleet(['config', 'get', box, '--json']);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as BoxConfigView[])[0]!;
  };
  const set = async (target: string, ...settings: string[]): Promise<string> => {
    const r = await fleet(['config', 'set', target, ...settings.flatMap((s) => ['--set', s]), '--json']);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { job: string }).job;
  };
  const logIncident = (before: number, after: number) =>
    runCli(['incident', 'log', '--config', chain.boxConfig, '--json', '--at', new Date(Date.now() - (after + 2) * 1000).toISOString(), '--before', String(before), '--after', String(after), '--camera', 'till2', '--reason', 'theft', '--justification', 'config test']);
  const boxAudit = async (action: string): Promise<{ object_ids: string[]; detail: Record<string, unknown> }[]> => {
    const r = await runCli(['audit', 'export', '--config', chain.boxConfig]);
    return r.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((row: { action: string }) => row.action === action);
  };

  beforeAll(async () => {
    dir = tempDir('hs-desired-');
    const video = await makeTestVideo(path.join(dir, 'cam.ts'), { seconds: 60, width: 320, height: 240, fps: 10 });
    chain = await startChain(dir, video, { kit: { forceUsers: [OBSERVER] } });
    chain.kit.enroll('box-2', 'Market Square');
    await waitFor(async () => (await fleet(['list', '--json'])).stdout.includes('"online"'), { timeoutMs: 30_000, what: 'box-1 online' });
  }, 120_000);
  afterAll(async () => {
    await chain?.stop();
  });

  it('a lower window cap and crops-only reach the box without a restart; its next incident obeys both; a group job shows each box', async () => {
    const group = await fleet(['group', 'set', 'north', 'box-1', 'box-2']);
    expect(group.code, group.stderr).toBe(0);
    const pid = chain.daemon.pid;
    const job = await set('group:north', 'incidents.max_window_s=60', 'crops_only=true');
    await waitFor(async () => (await view()).state === 'applied', { timeoutMs: 20_000, what: 'box-1 applies version 1' });
    expect((await view()).reported).toMatchObject({ appliedVersion: 1, restartRequired: false });
    expect(chain.daemon.pid).toBe(pid);

    // box-2 was enrolled but never came online: the job says so, box by box
    const states = JSON.parse((await fleet(['job', job, '--json'])).stdout) as { device: string; state: string }[];
    expect(states).toEqual([
      { device: 'box-1', what: 'config version 1', state: 'applied', error: '' },
      { device: 'box-2', what: 'config version 1', state: 'pending', error: '' },
    ]);

    // the window cap: 70 s is refused in words, 25 s is taken and analysed crops-only
    await waitForFootage(chain.stateDir, ['till2'], 30);
    const long = await logIncident(50, 20);
    expect(long.code).not.toBe(0);
    expect(long.stderr).toMatch(/60/);
    const logged = await logIncident(20, 5);
    expect(logged.code, logged.stderr).toBe(0);
    const id = (JSON.parse(logged.stdout) as { id: string }).id;
    await waitForState(chain.stateDir, id, ['sealed', 'delivered', 'failed'], 180_000);
    const analysed = (await boxAudit('evidence.faces_analysed')).find((a) => a.object_ids[0] === id);
    expect(analysed?.detail.mode).toBe('crops_only');
    // the box says what it runs with, to the force's get_config
    const got = JSON.parse((await fleet(['cmd', 'box-1', 'get_config', '--json'])).stdout)[0];
    expect(got.reply).toMatchObject({ crops_only: true, incidents: { max_window_s: 60 } });
  }, 300_000);

  it('a document the box must refuse (invalid, unsigned, for another box, an old version) is refused whole with its reasons; the running configuration stays', async () => {
    const observer: mqtt.MqttClient = await connectAs(chain.kit.broker, OBSERVER.username, OBSERVER.password);
    try {
      const key = readKeyFile(forcePaths(chain.kit.forceDir).commandKey, 'ed25519');
      const publish = async (doc: Record<string, unknown>, sign = true): Promise<void> => {
        const msg = { doc, kid: key.kid, sig: sign ? signWith(key, SIG_CONTEXT.config, canonicalBytes(doc)) : 'AAAA' };
        await observer.publishAsync('hindsight/v1/box-1/config/desired', JSON.stringify(msg), { qos: 1, retain: true });
      };
      const doc = (version: number, config: Record<string, unknown>, device = 'box-1') => ({ device_id: device, version, config, iat: Date.now() });
      const refusedWith = async (version: number, re: RegExp): Promise<string[]> => {
        let errors: string[] = [];
        await waitFor(async () => ((await view()).reported?.rejectedVersion === version && re.test((errors = (await view()).reported!.errors ?? []).join('\n'))), { timeoutMs: 15_000, what: `version ${version} refused with ${re}` });
        return errors;
      };
      await publish(doc(7, { 'incidents.max_window_s': 5000, live_recognition: true, crops_only: 'yes' }));
      const errors = await refusedWith(7, /max_window_s must be at most 600/);
      expect(errors.join('\n')).toMatch(/live_recognition is not a force-owned setting/);
      expect(errors.join('\n')).toMatch(/crops_only/);
      await publish(doc(8, { 'incidents.max_window_s': 30 }), false);
      await refusedWith(8, /signature/);
      await publish(doc(9, { 'incidents.max_window_s': 30 }, 'box-2'));
      await refusedWith(9, /for box box-2/);
      await publish(doc(1, { 'incidents.max_window_s': 30 }));
      await refusedWith(1, /version 1 is not above the applied version 1/);
      expect((await view()).reported!.appliedVersion).toBe(1);
      expect((await logIncident(50, 20)).stderr).toMatch(/60/);
      const refused = await boxAudit('config.force_rejected');
      expect(refused.length).toBeGreaterThanOrEqual(4);
      // the force's next version replaces the retained junk
    } finally {
      observer.end(true);
    }
  }, 120_000);

  it('rollback is a new version with the previous configuration; a box that was away converges when it comes back', async () => {
    await set('box-1', 'incidents.max_window_s=120');
    await waitFor(async () => (await view()).reported?.appliedVersion === 2, { timeoutMs: 20_000, what: 'version 2 applied' });
    const rb = await fleet(['config', 'rollback', 'box-1']);
    expect(rb.code, rb.stderr).toBe(0);
    await waitFor(async () => (await view()).reported?.appliedVersion === 3, { timeoutMs: 20_000, what: 'version 3 (the rollback) applied' });
    expect((await view()).desired).toEqual({ 'incidents.max_window_s': 60, crops_only: true });

    await chain.daemon.stop();
    await set('box-1', 'crops_only=null', 'uplink.health_interval_s=30');
    expect((await view()).state).toBe('pending');
    chain.daemon = startDaemon(chain.boxConfig);
    await chain.daemon.waitForLine(/"msg":"hindsight running"/, 60_000);
    await waitFor(async () => (await view()).reported?.appliedVersion === 4, { timeoutMs: 30_000, what: 'version 4 applied after the box came back' });
    // the health interval applies at the next start: the box says a restart is needed
    expect((await view()).state).toBe('restart_required');
    const applied = await boxAudit('config.force_applied');
    expect(applied.map((a) => a.detail.version)).toEqual([1, 2, 3, 4]);
  }, 180_000);
  it('set_config: the settings go as a signed command and the reply says what the box applied; a document the box must refuse is answered with its reasons and changes nothing', async () => {
    const r = await fleet(['cmd', 'box-1', 'set_config', '--arg', 'incidents.max_window_s=90', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const [c] = JSON.parse(r.stdout) as { op: string; status: string; reply: Record<string, unknown> }[];
    // the health interval of version 4 still waits for a restart: the reply says so
    expect(c).toMatchObject({ op: 'set_config', status: 'done', reply: { applied_version: 5, restart_required: true } });
    expect(c!.reply.sha256).toMatch(/^[0-9a-f]{64}$/);
    await waitFor(async () => (await view()).reported?.appliedVersion === 5, { timeoutMs: 15_000, what: 'version 5 reported' });
    expect((await view()).desired).toEqual({ 'incidents.max_window_s': 90, 'uplink.health_interval_s': 30 });
    const got = JSON.parse((await fleet(['cmd', 'box-1', 'get_config', '--json'])).stdout)[0];
    expect(got.reply).toMatchObject({ incidents: { max_window_s: 90 } });

    // a key that is not the force's is refused by the force before anything is signed or sent
    const bad = await fleet(['cmd', 'box-1', 'set_config', '--arg', 'live_recognition=true', '--json']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/live_recognition is not a force-owned setting/);
    expect((await view()).desiredVersion).toBe(5);

    // a document the box itself must refuse (an old version, signed by the force's key), sent as a command
    const observer: mqtt.MqttClient = await connectAs(chain.kit.broker, OBSERVER.username, OBSERVER.password);
    try {
      const replies: { body: { status: string; error?: string }; correlation?: string }[] = [];
      observer.on('message', (_t, payload, packet) => replies.push({ body: JSON.parse(payload.toString()), correlation: packet.properties?.correlationData?.toString() }));
      await observer.subscribeAsync('hindsight/v1/box-1/cmd/res', { qos: 1 });
      const key = readKeyFile(forcePaths(chain.kit.forceDir).commandKey, 'ed25519');
      const doc = { device_id: 'box-1', version: 2, config: { 'incidents.max_window_s': 30 }, iat: Date.now() };
      const desired = { doc, kid: key.kid, sig: signWith(key, SIG_CONTEXT.config, canonicalBytes(doc)) };
      const now = Date.now();
      const cmd = { v: 1, cmd_id: `t${now}`, device_id: 'box-1', issuer_kid: key.kid, op: 'set_config', args: { desired }, seq: now + 1000, iat: now, exp: now + 60_000 };
      const signed = { kid: key.kid, cmd, sig: signWith(key, SIG_CONTEXT.command, canonicalBytes(cmd)) };
      await observer.publishAsync('hindsight/v1/box-1/cmd', JSON.stringify(signed), { qos: 1, properties: { responseTopic: 'hindsight/v1/box-1/cmd/res', correlationData: Buffer.from('old-version') } });
      await waitFor(() => replies.some((x) => x.correlation === 'old-version'), { timeoutMs: 15_000, what: 'the reply to the old version' });
      const reply = replies.find((x) => x.correlation === 'old-version')!.body;
      expect(reply.status).toBe('error');
      expect(reply.error).toMatch(/version 2 is not above the applied version 5/);
    } finally {
      observer.end(true);
    }
    expect((await view()).reported!.appliedVersion).toBe(5);
    const rejected = (await boxAudit('command.rejected')).filter((a) => a.object_ids[0]?.startsWith('t'));
    expect(rejected.length).toBe(1);
  }, 120_000);
});
