import path from 'node:path';
import type mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readKeyFile, SIG_CONTEXT, signWith } from '../../../daemon/src/crypto/keys.js';
import type { FleetCommand } from '../../../daemon/src/force/db/commands.js';
import { forcePaths } from '../../../daemon/src/force/paths.js';
import { canonicalBytes } from '../../../daemon/src/util/canonical.js';
import { runCommand } from '../../../daemon/src/util/child.js';
import { runCli, startDaemon } from '../../helpers/cli.js';
import { startChain, type Chain } from '../../helpers/chain.js';
import { makeTestVideo } from '../../helpers/media.js';
import { CLI, tempDir } from '../../helpers/paths.js';
import { connectAs } from '../../helpers/uplink.js';
import { waitFor } from '../../helpers/wait.js';

const OBSERVER = { username: 'svc.observer', password: 'observer-password-1234' };
const RES = 'hindsight/v1/box-1/cmd/res';

interface Reply {
  topic: string;
  body: { cmd_id: string; status: 'ok' | 'error'; error?: string; data?: unknown };
  correlation: string | undefined;
}

/**
 * Signed commands from the force to a box over the real broker (TLS, the generated ACL): the force CLI
 * signs and queues, the receiver sends, the box verifies, acts and answers on exactly `cmd/res`. Every
 * bad command of SECURITY.md is refused with its reason, audited on the box and answered; a replay is
 * refused; a command waits at the broker for a box that is away, across a broker restart, until it expires.
 */
describe('fleet: signed commands to a box', () => {
  let dir: string;
  let chain: Chain;
  let observer: mqtt.MqttClient;
  const replies: Reply[] = [];
  const cli = (args: string[]) => runCli(['force', 'fleet', ...args, '--config', chain.kit.forceConfig]);
  const cmd = async (device: string, op: string, ...rest: string[]): Promise<FleetCommand[]> => {
    const r = await cli(['cmd', device, op, ...rest, '--json']);
    expect(r.stderr).not.toMatch(/error/i);
    return JSON.parse(r.stdout) as FleetCommand[];
  };
  /**
   * A command signed with the force's command key, built by hand (to tamper with, replay or misaddress).
   * Its sequence number is the time in ms, as the force's own are at least, so both interleave.
   */
  let last = 0;
  const forge = (o: { op?: string; device?: string; exp?: number; iat?: number; args?: Record<string, unknown>; id?: string } = {}) => {
    const key = readKeyFile(forcePaths(chain.kit.forceDir).commandKey, 'ed25519');
    const iat = o.iat ?? Date.now();
    const seq = (last = Math.max(last + 1, Date.now()));
    const cmd = { v: 1, cmd_id: o.id ?? `t${seq}`, device_id: o.device ?? 'box-1', issuer_kid: key.kid, op: o.op ?? 'ping', args: o.args ?? {}, seq, iat, exp: o.exp ?? iat + 60_000 };
    return { kid: key.kid, cmd, sig: signWith(key, SIG_CONTEXT.command, canonicalBytes(cmd)) };
  };
  const send = async (payload: unknown, o: { responseTopic?: string | null; correlation?: string; device?: string } = {}): Promise<void> => {
    const properties: mqtt.IClientPublishOptions['properties'] = {};
    if (o.responseTopic !== null) properties.responseTopic = o.responseTopic ?? RES;
    if (o.correlation) properties.correlationData = Buffer.from(o.correlation);
    await observer.publishAsync(`hindsight/v1/${o.device ?? 'box-1'}/cmd`, typeof payload === 'string' ? payload : JSON.stringify(payload), { qos: 1, properties });
  };
  const replyTo = async (correlation: string): Promise<Reply> => {
    let found: Reply | undefined;
    await waitFor(() => (found = replies.find((r) => r.correlation === correlation)) !== undefined, { timeoutMs: 15_000, what: `the reply to ${correlation}` });
    return found!;
  };
  const boxAudit = async (action: string): Promise<{ action: string; result: string; object_ids: string[]; detail: Record<string, unknown> }[]> => {
    const r = await runCli(['audit', 'export', '--config', chain.boxConfig]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((row: { action: string }) => row.action === action);
  };

  /** A force-side client that sends hand-made commands and sees every reply (and anything on the box's state topic). */
  const connectObserver = async (): Promise<void> => {
    observer = await connectAs(chain.kit.broker, OBSERVER.username, OBSERVER.password);
    observer.on('message', (topic, payload, packet) => {
      if (topic.endsWith('/cmd/res')) replies.push({ topic, body: JSON.parse(payload.toString()), correlation: packet.properties?.correlationData?.toString() });
      else replies.push({ topic, body: { cmd_id: '', status: 'error', error: payload.toString() }, correlation: packet.properties?.correlationData?.toString() });
    });
    await observer.subscribeAsync(['hindsight/v1/+/cmd/res', 'hindsight/v1/box-1/state'], { qos: 1 });
  };

  beforeAll(async () => {
    dir = tempDir('hs-commands-');
    const video = await makeTestVideo(path.join(dir, 'cam.ts'), { seconds: 60, width: 320, height: 240, fps: 10 });
    chain = await startChain(dir, video, { kit: { forceUsers: [OBSERVER] } });
    await connectObserver();
    await waitFor(async () => (await cli(['list', '--json'])).stdout.includes('"online"'), { timeoutMs: 30_000, what: 'box-1 online' });
  }, 120_000);
  afterAll(async () => {
    observer?.end(true);
    await chain?.stop();
  });

  it('ping, get_status and get_config: signed by the CLI, sent by the receiver, answered by the box', async () => {
    const [ping] = await cmd('box-1', 'ping');
    expect(ping!.status).toBe('done');
    expect(ping!.reply).toMatchObject({ pong: true });
    const [status] = await cmd('box-1', 'get_status');
    expect((status!.reply as { cameras: { id: string }[] }).cameras.map((c) => c.id)).toEqual(['till2']);
    const [config] = await cmd('box-1', 'get_config');
    expect(config!.reply).toMatchObject({ crops_only: false, incidents: { max_window_s: 600 } });
    // nothing of the shop's cameras and no secret leaves the box this way
    expect(JSON.stringify(config!.reply)).not.toMatch(/rtsp|password|till2/);
    // the box audited each, under the force key that signed it
    const accepted = await boxAudit('command.accepted');
    expect(accepted.map((a) => a.object_ids[0])).toEqual(expect.arrayContaining([ping!.cmdId, status!.cmdId, config!.cmdId]));
    const listed = await cli(['commands', 'box-1']);
    expect(listed.stdout).toMatch(new RegExp(`box-1\\s+ping\\s+done\\s+\\S+\\s+${ping!.cmdId}`));
  });

  it('get_logs: the last lines of the daemon\'s own log, redacted: no camera password, no name a person typed', async () => {
    const [early] = await cmd('box-1', 'get_logs', '--arg', 'lines=50');
    const first = early!.reply as { lines: { level: string; time: string; msg?: string; redacted?: string[] }[]; truncated: boolean };
    expect(first.lines.length).toBeGreaterThan(0);
    expect(first.lines.length).toBeLessThanOrEqual(50);
    expect(first.lines.map((l) => l.msg)).toContain('hindsight running');
    for (const l of first.lines) expect(l).toMatchObject({ level: expect.any(String), time: expect.stringMatching(/^\d{4}-/) });

    // a camera with a user name and password (kept encrypted; ffmpeg gets them in the RTSP URL) and a name
    // a manager typed: the recorder starts it and logs about it, the force's copy of the log has neither
    const PASSWORD = 'Planted-Secret-77';
    const added = await runCli(['camera', 'add', '--config', chain.boxConfig, '--id', 'till9', '--name', 'Till nine by the door', '--url', chain.camera.url, '--username', 'planted-user', '--password-stdin'], { input: PASSWORD });
    expect(added.code, added.stderr).toBe(0);
    await chain.daemon.waitForLine(/"camera":"till9"/, 30_000);
    try {
      const [later] = await cmd('box-1', 'get_logs', '--arg', 'lines=1000');
      const text = JSON.stringify(later!.reply);
      expect(text).toContain('till9');
      for (const secret of [PASSWORD, 'planted-user', 'Till nine']) expect(text).not.toContain(secret);
      // (and stdout, the journal's copy, has no password either)
      expect(chain.daemon.output).not.toContain(PASSWORD);
      const { lines, truncated } = later!.reply as { lines: unknown[]; truncated: boolean };
      expect(lines.length).toBeLessThanOrEqual(1000);
      expect(Buffer.byteLength(text)).toBeLessThan(256 * 1024);
      expect(typeof truncated).toBe('boolean');
      // arguments out of range are refused
      const bad = JSON.parse((await cli(['cmd', 'box-1', 'get_logs', '--arg', 'lines=5000', '--json'])).stdout) as FleetCommand[];
      expect(bad[0]!.error).toMatch(/^bad_args:/);
    } finally {
      expect((await runCli(['camera', 'remove', 'till9', '--config', chain.boxConfig])).code).toBe(0);
    }
  });

  it('high-risk commands: a nonce of the box is checked (and required while its clock is not synchronised)', async () => {
    const [status] = await cmd('box-1', 'get_status');
    const synced = (status!.reply as { clock: { synced: boolean } }).clock.synced;
    // a key set that does not verify: harmless whether or not the box takes the command
    const bare = forge({ op: 'set_key_set', args: { keyset: {} } });
    await send(bare, { correlation: 'bare' });
    expect((await replyTo('bare')).body.error).toMatch(synced ? /^failed: / : /^nonce: set_key_set needs a fresh nonce from this box while its clock is not synchronised/);
    await send(forge({ op: 'set_key_set', args: { keyset: {}, nonce: 'A'.repeat(22) } }), { correlation: 'unknown-nonce' });
    expect((await replyTo('unknown-nonce')).body.error).toMatch(/^nonce: the nonce is unknown to this box/);
    // an operator may ask for one; the command that fails with it leaves it unused
    const [got] = await cmd('box-1', 'get_nonce');
    expect(got!.reply).toMatchObject({ nonce: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/), expires_in_s: 300, box_time: expect.any(Number) });
    const nonce = (got!.reply as { nonce: string }).nonce;
    for (const name of ['with-nonce-1', 'with-nonce-2']) {
      await send(forge({ op: 'set_key_set', args: { keyset: {}, nonce } }), { correlation: name });
      expect((await replyTo(name)).body.error, name).toMatch(/^failed: /);
    }
    const rejected = await boxAudit('command.rejected');
    expect(rejected.some((r) => r.object_ids[0] === bare.cmd.cmd_id && r.detail.reason === (synced ? 'failed' : 'nonce'))).toBe(true);
  });

  it('a valid command works once; its replay, even under a new correlation, is refused and audited', async () => {
    const c = forge();
    await send(c, { correlation: 'first' });
    expect((await replyTo('first')).body).toMatchObject({ cmd_id: c.cmd.cmd_id, status: 'ok' });
    await send(c, { correlation: 'again' });
    const again = await replyTo('again');
    expect(again.body.status).toBe('error');
    expect(again.body.error).toMatch(/^replay:/);
    expect((await boxAudit('command.rejected')).some((r) => r.object_ids[0] === c.cmd.cmd_id && r.detail.reason === 'replay')).toBe(true);
  });

  it('every bad command is refused with its reason, answered on cmd/res only, and changes nothing', async () => {
    const tampered = forge({ op: 'ping' });
    tampered.cmd.op = 'restart';
    const cases: [string, unknown, RegExp, { responseTopic?: string | null }?][] = [
      ['tampered', tampered, /^bad_signature:/],
      ['expired', forge({ iat: Date.now() - 120_000, exp: Date.now() - 1000 }), /^expired:/],
      ['future', forge({ iat: Date.now() + 120_000, exp: Date.now() + 180_000 }), /^future_iat:/],
      ['lifetime', forge({ exp: Date.now() + 3_600_000 }), /^lifetime:/],
      ['other-box', forge({ device: 'box-2' }), /^wrong_device:/],
      ['unknown-op', forge({ op: 'enable_live_recognition' }), /^forbidden_op:/],
      ['camera-op', forge({ op: 'add_camera' }), /^forbidden_op:/],
      ['bad-args', forge({ op: 'ping', args: { x: 1 } }), /^bad_args:/],
      ['not-json', 'not json', /^schema:/],
      ['oversize', forge({ args: { blob: 'x'.repeat(17 * 1024) } }), /^oversize:/],
      ['resend-unknown', forge({ op: 'resend_incident', args: { incident_id: 'nosuch' } }), /^failed: .*no evidence/],
      ['hold-unknown', forge({ op: 'hold_incident', args: { incident_id: 'nosuch', days: 30 } }), /^failed: no incident nosuch on this box/],
      ['hold-too-long', forge({ op: 'hold_incident', args: { incident_id: 'nosuch', days: 400 } }), /^bad_args: /],
      ['other-response-topic', forge(), /^bad_response_topic:/, { responseTopic: 'hindsight/v1/box-1/state' }],
      ['no-response-topic', forge(), /^bad_response_topic:/, { responseTopic: null }],
    ];
    for (const [name, payload, expected, o] of cases) {
      await send(payload, { correlation: name, ...o });
      const r = await replyTo(name);
      expect(r.topic, name).toBe(RES);
      expect(r.body.status, name).toBe('error');
      expect(r.body.error, name).toMatch(expected);
    }
    // the reply never went to the topic the command named
    expect(replies.filter((r) => r.topic !== RES && r.body.error?.includes('cmd_id'))).toEqual([]);
    const rejected = await boxAudit('command.rejected');
    expect(rejected.length).toBeGreaterThanOrEqual(cases.length);
    expect(rejected.every((r) => r.result === 'denied')).toBe(true);
    // the box lives on and still answers
    expect((await cmd('box-1', 'ping'))[0]!.status).toBe('done');
    const verify = await runCli(['audit', 'verify', '--config', chain.boxConfig]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });

  it('a command for a box that is away waits at the broker, across a broker restart, while valid; after its expiry it is refused', async () => {
    await chain.daemon.stop();
    await waitFor(async () => (await cli(['list', '--json'])).stdout.includes('"offline"'), { timeoutMs: 20_000, what: 'box-1 offline' });
    const waiting = forge({ exp: Date.now() + 240_000 });
    const stale = forge({ exp: Date.now() + 8_000 });
    await send(waiting, { correlation: 'waiting' });
    await send(stale, { correlation: 'stale' });
    // the broker saves its queues every second (autosave_interval 1): let it, then kill -9 it and start it again
    await new Promise((r) => setTimeout(r, 2_000));
    await chain.kit.broker.restart();
    await new Promise((r) => setTimeout(r, 9_000));
    observer.end(true);
    await connectObserver();
    chain.daemon = startDaemon(chain.boxConfig);
    await chain.daemon.waitForLine(/"msg":"hindsight running"/, 60_000);
    expect((await replyTo('waiting')).body).toMatchObject({ cmd_id: waiting.cmd.cmd_id, status: 'ok' });
    expect((await replyTo('stale')).body.error).toMatch(/^expired:/);
    // a command the force queued with nobody able to answer before its expiry is marked expired
    await chain.daemon.stop();
    const r = await cli(['cmd', 'box-1', 'ping', '--ttl', '5', '--json']);
    expect(r.code).toBe(1);
    expect((JSON.parse(r.stdout) as FleetCommand[])[0]).toMatchObject({ status: 'expired', error: 'no reply before it expired' });
    chain.daemon = startDaemon(chain.boxConfig);
    await chain.daemon.waitForLine(/"msg":"hindsight running"/, 60_000);
  }, 180_000);

  it('the box a day behind the force (the force CLI under libfaketime, a day ahead): a high-risk command is refused as issued in the future, and so is its replay after it expired', async () => {
    const nonce = ((await cmd('box-1', 'get_nonce'))[0]!.reply as { nonce: string }).nonce;
    const ahead = await runCommand('faketime', ['-f', '+1d', process.execPath, CLI, 'force', 'fleet', 'cmd', 'box-1', 'set_key_set', '--arg', `nonce=${nonce}`, '--ttl', '20', '--no-wait', '--json', '--config', chain.kit.forceConfig], {
      timeoutMs: 60_000,
      env: { ...process.env, FAKETIME_DONT_FAKE_MONOTONIC: '1' },
    });
    expect(ahead.code, ahead.stderr).toBe(0);
    const issued = (JSON.parse(ahead.stdout.toString('utf8')) as FleetCommand[])[0]!;
    expect(issued.iatUtc - Date.now()).toBeGreaterThan(23 * 3_600_000);
    const settled = async (): Promise<FleetCommand> => {
      let c: FleetCommand | undefined;
      await waitFor(async () => ((c = (JSON.parse((await cli(['commands', 'box-1', '--json'])).stdout) as FleetCommand[]).find((x) => x.cmdId === issued.cmdId))?.status === 'failed'), { timeoutMs: 20_000, what: 'the box refuses the command' });
      return c!;
    };
    expect((await settled()).error).toMatch(/^future_iat:/);
    // the force's expiry passes (20 s in its frame); an attacker on the broker replays the signed command:
    // to the box it is still a day from expiring, but it is refused, and its nonce stays unused
    await new Promise((r) => setTimeout(r, 21_000));
    await send(JSON.parse(issued.signed), { correlation: 'replay-after-expiry' });
    expect((await replyTo('replay-after-expiry')).body.error).toMatch(/^future_iat:/);
    const refused = (await boxAudit('command.rejected')).filter((a) => a.object_ids[0] === issued.cmdId);
    expect(refused.map((a) => a.detail.reason)).toEqual(['future_iat', 'future_iat']);
    const status = await runCli(['uplink', 'status', '--json', '--config', chain.boxConfig]);
    expect(JSON.parse(status.stdout).keyset_seq).toBe(1);
  }, 120_000);

  it('key rotation reaches the box by set_key_set; a restart command stops the daemon cleanly for its service manager', async () => {
    const rotated = await runCli(['force', 'rotate', '--dir', chain.kit.forceDir]);
    expect(rotated.code, rotated.stderr).toBe(0);
    const newKid = /recipients .*, ([0-9a-f]{16})/.exec(rotated.stdout)![1]!;
    // a high-risk op: the CLI asks each box for a fresh nonce first (required while its clock is not synchronised)
    const [set] = await cmd('all', 'set_key_set');
    expect(set).toMatchObject({ deviceId: 'box-1', op: 'set_key_set', status: 'done', reply: { seq: 2 } });
    expect((set!.reply as { recipients: string[] }).recipients).toContain(newKid);
    const status = await runCli(['uplink', 'status', '--json', '--config', chain.boxConfig]);
    expect(JSON.parse(status.stdout).keyset_seq).toBe(2);
    // the same key set again is an old sequence: refused, the installed one stays
    const fresh = ((await cmd('box-1', 'get_nonce'))[0]!.reply as { nonce: string }).nonce;
    const [again] = JSON.parse((await cli(['cmd', 'box-1', 'set_key_set', '--arg', `nonce=${fresh}`, '--json'])).stdout) as FleetCommand[];
    expect(again).toMatchObject({ status: 'failed' });
    expect(again!.error).toMatch(/^failed: /);
    // a nonce is good for one command: the one the rotation used is refused
    const used = (set!.args as { nonce: string }).nonce;
    const [reused] = JSON.parse((await cli(['cmd', 'box-1', 'set_key_set', '--arg', `nonce=${used}`, '--json'])).stdout) as FleetCommand[];
    expect(reused!.error).toMatch(/^nonce: the nonce was already used/);

    const [restart] = await cmd('box-1', 'restart', '--arg', 'reason=new version');
    expect(restart!.status).toBe('done');
    const exit = await chain.daemon.child.exited;
    expect(exit.code).toBe(0);
    expect(chain.daemon.output).toMatch(/restart asked by the force/);
    chain.daemon = startDaemon(chain.boxConfig);
    await chain.daemon.waitForLine(/"msg":"hindsight running"/, 60_000);
    expect((await cmd('box-1', 'ping'))[0]!.status).toBe('done');
  }, 120_000);
});
