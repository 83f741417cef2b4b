import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openForceDb } from '../../../daemon/src/force/database.js';
import { forcePaths } from '../../../daemon/src/force/paths.js';
import { DeviceRegistry } from '../../../daemon/src/force/registry.js';
import type { AuditRow } from '../../../daemon/src/audit/log.js';
import { runCli, startDaemon } from '../../helpers/cli.js';
import { startChain, type Chain } from '../../helpers/chain.js';
import { makeTestVideo } from '../../helpers/media.js';
import { startKitBroker, type KitBroker } from '../../helpers/kit-broker.js';
import { tempDir } from '../../helpers/paths.js';
import { descendants, tcpSockets } from '../../helpers/process.js';
import { connectAs } from '../../helpers/uplink.js';
import { waitFor } from '../../helpers/wait.js';

const ESTABLISHED = '01';
/** The box's log line for a login the broker refused. */
const REFUSED = /^(?=.*"msg":"mqtt error")(?=.*Not authorized)/;

/**
 * Local ports of the established TCP connections process `pid` (or a child: `hindsight force ...` runs
 * `hindsight-force` as one) holds to the broker's port.
 */
const brokerLinks = (pid: number, port: number): number[] =>
  [pid, ...descendants(pid)].flatMap((p) => tcpSockets(p)).filter((s) => s.state === ESTABLISHED && s.remotePort === port).map((s) => s.localPort);

const bundlePassword = (file: string): string => (JSON.parse(readFileSync(file, 'utf8')) as { mqtt: { password: string } }).mqtt.password;
const passwdUsers = (forceDir: string): string[] => readFileSync(forcePaths(forceDir).brokerPasswd, 'utf8').split('\n').filter((l) => l).map((l) => l.slice(0, l.indexOf(':'))).sort();

function revokedRows(forceDir: string, device: string): AuditRow[] {
  const fdb = openForceDb(forceDir);
  try {
    return fdb.audit.find({ action: 'device.revoked', objectId: device });
  } finally {
    fdb.close();
  }
}

function isRevoked(forceDir: string, device: string): boolean | undefined {
  const fdb = openForceDb(forceDir);
  try {
    return new DeviceRegistry(fdb.db).get(device)?.revoked;
  } finally {
    fdb.close();
  }
}

/** Set `broker.pid_file` in a force.yaml (the rest of the file unchanged). */
function setPidFile(forceConfig: string, pidFile: string): void {
  const doc = (parse(readFileSync(forceConfig, 'utf8')) ?? {}) as Record<string, unknown>;
  writeFileSync(forceConfig, stringify({ ...doc, broker: { pid_file: pidFile } }), { mode: 0o600 });
}

/** Over `ms`, every 200 ms: `probe` must stay true (a reconnection would show up here). */
async function staysTrue(probe: () => boolean, ms: number, what: string): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    expect(probe(), what).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const revoke = (forceDir: string, device: string) => runCli(['force', 'revoke', '--dir', forceDir, '--device', device, '--reason', 'box stolen from the shop'], { timeoutMs: 30_000 });

/**
 * `force revoke` bites: the box leaves the broker's password file, Mosquitto reloads it (SIGHUP to the
 * process of broker.pid_file) and drops the box's live connection at once; its reconnections are refused
 * as not authorized. Other boxes and the force receiver keep their connections.
 */
describe('revoke: a stolen box is cut off the broker (the whole chain: real box daemon, receiver, TLS broker with the generated ACL)', () => {
  let dir: string;
  let chain: Chain;
  let box2: mqtt.MqttClient;
  let box2Closed = false;

  beforeAll(async () => {
    dir = tempDir('hs-revoke-');
    const video = await makeTestVideo(path.join(dir, 'cam.ts'), { seconds: 60, width: 320, height: 240, fps: 10 });
    chain = await startChain(dir, video);
    box2 = await connectAs(chain.kit.broker, 'box-2', bundlePassword(chain.kit.enroll('box-2', 'Other')));
    box2.on('close', () => (box2Closed = true));
  }, 150_000);
  afterAll(async () => {
    box2?.end(true);
    await chain?.stop();
  });

  it('box-1 is disconnected within 5 s and stays out (not authorized); box-2 and the receiver stay connected; audited with what was done at the broker', async () => {
    const port = chain.kit.broker.port;
    await chain.daemon.waitForLine(/"msg":"mqtt connected"/, 30_000);
    const boxLinks = await waitFor(() => (brokerLinks(chain.daemon.pid, port).length ? brokerLinks(chain.daemon.pid, port) : undefined), { what: "box-1's connection to the broker" });
    const receiverLinks = brokerLinks(chain.receiver.pid, port);
    expect(receiverLinks).toHaveLength(1);
    const connectedBefore = chain.daemon.lines.filter((l) => l.includes('"msg":"mqtt connected"')).length;
    const receiverLinesBefore = chain.receiver.lines.length;

    const r = await revoke(chain.kit.forceDir, 'box-1');
    const returned = Date.now();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('device box-1 revoked: its evidence and health are refused from now on');
    expect(r.stdout).toContain(`broker: its line removed from ${forcePaths(chain.kit.forceDir).brokerPasswd}; Mosquitto (pid ${chain.kit.broker.pid}) reloaded`);

    // the box's connection is gone (checked on the box's own sockets) within 5 s of the command
    await waitFor(() => !brokerLinks(chain.daemon.pid, port).some((p) => boxLinks.includes(p)), { timeoutMs: 5000, intervalMs: 50, what: "box-1's connection to go" });
    const cutAfterMs = Date.now() - returned;
    expect(cutAfterMs).toBeLessThan(5000);
    // it tries again (reconnect_ms 2 s) and is refused
    await chain.daemon.waitForLine(REFUSED, 10_000);
    // ... and stays out: no new "mqtt connected", no connection that lasts
    const up = (): boolean => chain.daemon.lines.filter((l) => l.includes('"msg":"mqtt connected"')).length === connectedBefore;
    const links: number[][] = [];
    await staysTrue(() => (links.push(brokerLinks(chain.daemon.pid, port)), up()), 6000, 'box-1 never connected again');
    // a refused attempt holds its socket for a moment; none is seen in two samples 1 s apart
    for (let i = 5; i < links.length; i++) expect(links[i]!.filter((p) => links[i - 5]!.includes(p)), 'a lasting connection of box-1').toEqual([]);
    // mqtt.js gives up after a refused CONNACK: a fresh start of the box is refused too
    await chain.daemon.stop();
    chain.daemon = startDaemon(chain.boxConfig);
    await chain.daemon.waitForLine(/"msg":"hindsight running"/, 60_000);
    await chain.daemon.waitForLine(REFUSED, 15_000);
    expect(chain.daemon.lines.some((l) => l.includes('"msg":"mqtt connected"'))).toBe(false);

    // the others are untouched: box-2 answers a round trip on the same connection; the receiver kept its own
    expect(box2Closed).toBe(false);
    expect((await box2.subscribeAsync('hindsight/v1/box-2/receipt', { qos: 1 }))[0]?.qos).toBe(1);
    expect(brokerLinks(chain.receiver.pid, port)).toEqual(receiverLinks);
    expect(chain.receiver.lines.slice(receiverLinesBefore).filter((l) => /mqtt offline|mqtt error/.test(l))).toEqual([]);

    expect(passwdUsers(chain.kit.forceDir)).toEqual(['box-2', 'svc.force']);
    expect(isRevoked(chain.kit.forceDir, 'box-1')).toBe(true);
    const row = revokedRows(chain.kit.forceDir, 'box-1').at(-1);
    expect(row?.justification).toBe('box stolen from the shop');
    expect(row?.detail).toEqual({ broker: { passwd_removed: true, reloaded: true, pid: chain.kit.broker.pid } });
  }, 90_000);

  it('no broker pid file: the box is revoked and audited all the same, the command fails (exit 1) saying what to do; run again, it finishes', async () => {
    const missing = path.join(dir, 'no-such-mosquitto.pid');
    setPidFile(chain.kit.forceConfig, missing);
    const r = await revoke(chain.kit.forceDir, 'box-2');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('device box-2 revoked: its evidence and health are refused from now on');
    expect(r.stderr).toContain(`box-2 is revoked in the force database, but the broker still lets it in: cannot reload the broker: cannot read the broker's pid file ${missing}: no such file (is Mosquitto running?)`);
    expect(r.stderr).toMatch(/what to do: until Mosquitto reloads, box-2 can stay connected: reload it by hand now \(sudo systemctl reload mosquitto, or sudo kill -HUP <its pid>\); broker\.pid_file in force\.yaml must be the pid_file of the running Mosquitto/);
    expect(isRevoked(chain.kit.forceDir, 'box-2')).toBe(true);
    expect(revokedRows(chain.kit.forceDir, 'box-2').at(-1)?.detail).toEqual({ broker: { passwd_removed: true, reloaded: false, pid: null, error: expect.stringContaining('no such file') } });
    expect(passwdUsers(chain.kit.forceDir)).toEqual(['svc.force']);
    // what the failure means: without a reload the broker still has box-2's line, and box-2 its connection
    await new Promise((res) => setTimeout(res, 1000));
    expect(box2Closed).toBe(false);

    // the pid file put right, the same command again finishes the job
    setPidFile(chain.kit.forceConfig, chain.kit.broker.pidFile);
    const again = await revoke(chain.kit.forceDir, 'box-2');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('device box-2 revoked (it already was)');
    expect(again.stdout).toContain('broker: no line for it in');
    await waitFor(() => box2Closed, { timeoutMs: 5000, what: "box-2's connection to be dropped" });
    expect(revokedRows(chain.kit.forceDir, 'box-2').at(-1)?.detail).toEqual({ already_revoked: true, broker: { passwd_removed: false, reloaded: true, pid: chain.kit.broker.pid } });
  }, 60_000);
});

/**
 * The same against the broker configuration the project writes: `force broker-config`'s hindsight.conf
 * included unchanged from an operator's mosquitto.conf that names the pid file, as on Debian.
 */
describe("revoke against the kit's own broker config (`force broker-config`, included unchanged)", () => {
  let dir: string;
  let force: string;
  let kit: KitBroker;
  let port = 0;
  let ca = '';
  const password = (id: string): string => bundlePassword(path.join(force, 'bundles', `${id}.bundle.json`));
  /** Connect as a box does: MQTT 5, persistent session, its last will. */
  const connectBox = (id: string, pw = password(id)): Promise<mqtt.MqttClient> =>
    new Promise((resolve, reject) => {
      const c = mqtt.connect(`mqtts://127.0.0.1:${port}`, {
        ca: readFileSync(ca),
        username: id,
        password: pw,
        clientId: id,
        clean: false,
        protocolVersion: 5,
        properties: { sessionExpiryInterval: 7 * 86_400 },
        will: { topic: `hindsight/v1/${id}/state`, payload: Buffer.from('{"state":"offline"}'), qos: 1, retain: true },
        reconnectPeriod: 0,
        connectTimeout: 5000,
      });
      c.once('connect', () => resolve(c));
      c.once('error', (e) => {
        c.end(true);
        reject(e);
      });
    });

  beforeAll(async () => {
    dir = tempDir('hs-revoke-kit-');
    kit = await startKitBroker(dir, { devices: ['box-a', 'box-b'] });
    ({ force, port, ca } = kit);
  });
  afterAll(async () => {
    await kit?.broker.stop();
  });

  it("the box's live connection is dropped at once and its login refused; the other box keeps its connection", async () => {
    const a = await connectBox('box-a');
    const b = await connectBox('box-b');
    const aClosed = new Promise<void>((resolve) => a.once('close', () => resolve()));
    let bClosed = false;
    b.on('close', () => (bClosed = true));
    const r = await revoke(force, 'box-a');
    expect(r.code, r.stderr).toBe(0);
    const t = Date.now();
    await Promise.race([aClosed, new Promise((_, reject) => setTimeout(() => reject(new Error('box-a still connected 5 s after revoke')), 5000))]);
    expect(Date.now() - t).toBeLessThan(5000);
    await expect(connectBox('box-a')).rejects.toMatchObject({ code: 135 }); // not authorized
    expect(bClosed).toBe(false);
    await b.publishAsync('hindsight/v1/box-b/state', '{"state":"online"}', { qos: 1 }); // a round trip on the same connection
    expect(bClosed).toBe(false);
    expect(revokedRows(force, 'box-a').at(-1)?.detail).toMatchObject({ broker: { passwd_removed: true, reloaded: true } });
    a.end(true);
    b.end(true);
  });
});
