import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKitBroker, type KitBroker } from '../../helpers/kit-broker.js';
import { ManagedProcess } from '../../../daemon/src/devkit/process.js';
import { readEnvFile } from '../../../daemon/src/devkit/force.js';
import { runCli } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/paths.js';
import { tcpSockets } from '../../helpers/process.js';
import { waitFor } from '../../helpers/wait.js';

/** TCP ports on which process `pid` listens. */
function listeningPorts(pid: number): number[] {
  return [...new Set(tcpSockets(pid).filter((s) => s.state === '0A').map((s) => s.localPort))].sort((a, b) => a - b);
}

const EV = 'cd'.repeat(16);

describe('the broker config `force broker-config` writes, on a real Mosquitto', () => {
  let dir: string;
  let kit: KitBroker;
  let broker: ManagedProcess;
  let port = 0;
  let ca = '';
  let kitArgs: string[] = [];
  const password = (id: string): string => kit.boxPassword(id);
  const connect = (username: string, clientId: string, secret = password(username)): Promise<mqtt.MqttClient> =>
    new Promise((resolve, reject) => {
      const c = mqtt.connect(`mqtts://127.0.0.1:${port}`, { ca: readFileSync(ca), username, password: secret, clientId, clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 3600 }, reconnectPeriod: 0, connectTimeout: 5000 });
      c.once('connect', () => resolve(c));
      c.once('error', (e) => reject(e));
    });

  beforeAll(async () => {
    dir = tempDir('hs-brokerconf-');
    kit = await startKitBroker(dir, { devices: ['box-a', 'box-b'], receivers: 3 });
    ({ port, ca, kitArgs } = kit);
    broker = kit.broker;
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('only the TLS port listens (no plain-text default listener)', () => {
    expect(listeningPorts(broker.pid)).toEqual([port]);
  });

  it("a box asking for another box's client id does not take over its session", async () => {
    const b = await connect('box-b', 'box-b');
    const closed = new Promise<string>((resolve) => b.once('close', () => resolve('closed')));
    const a = await connect('box-a', 'box-b');
    await a.publishAsync(`hindsight/v1/box-a/ev/${EV}/m`, 'own', { qos: 1 }); // a round trip after the takeover attempt
    const r = await Promise.race([b.publishAsync(`hindsight/v1/box-b/ev/${EV}/m`, 'still here', { qos: 1 }).then(() => 'acked'), closed]);
    expect(r).toBe('acked');
    a.end(true);
    b.end(true);
  });

  it('--receivers 3: each receiver logs in under its own user with its own password, and has the receiver\'s rights on a shared subscription', async () => {
    const force = path.join(dir, 'force');
    const receivers = [
      { user: 'svc.force', env: {} as Record<string, string>, secret: readFileSync(path.join(force, 'mqtt', 'force.password'), 'utf8').trim() },
      ...[2, 3].map((n) => {
        const env = readEnvFile(path.join(force, 'mqtt', `receiver-${n}.env`));
        return { user: `svc.force-${n}`, env, secret: readFileSync(env.HSFORCE_MQTT__PASSWORD_FILE!, 'utf8').trim() };
      }),
    ];
    expect(receivers.slice(1).map((r) => r.env.HSFORCE_MQTT__USERNAME)).toEqual(['svc.force-2', 'svc.force-3']);
    expect(new Set(receivers.map((r) => r.secret)).size).toBe(3);
    for (const n of [2, 3]) expect(statSync(path.join(force, 'mqtt', `force-${n}.password`)).mode & 0o777).toBe(0o600);
    const clients = await Promise.all(receivers.map((r) => connect(r.user, r.user, r.secret)));
    const got: string[] = [];
    for (const [i, c] of clients.entries()) {
      c.on('message', (topic) => got.push(`${i}:${topic}`));
      await c.subscribeAsync(`$share/kit-test/hindsight/v1/+/ev/+/+`, { qos: 1 });
    }
    const box = await connect('box-a', 'box-a');
    const boxGot = new Promise<string>((resolve) => box.on('message', (topic) => resolve(topic)));
    await box.subscribeAsync('hindsight/v1/box-a/receipt', { qos: 1 });
    for (let i = 0; i < 6; i++) await box.publishAsync(`hindsight/v1/box-a/ev/${EV}/${i}`, 'chunk', { qos: 1 });
    // each message to one receiver of the group; every receiver may answer a box
    await clients[2]!.publishAsync('hindsight/v1/box-a/receipt', 'receipt', { qos: 1 });
    expect(await boxGot).toBe('hindsight/v1/box-a/receipt');
    await waitFor(() => got.length === 6, { timeoutMs: 10_000, what: 'six chunks delivered to the group' });
    expect(new Set(got.map((g) => g.split(':')[1])).size).toBe(6);
    for (const c of [...clients, box]) c.end(true);
  });

  it('a password from outside the kit is refused for a receiver user; running the kit again keeps every password', async () => {
    await expect(connect('svc.force-2', 'svc.force-2', 'not-the-password')).rejects.toThrow(/[Nn]ot authorized|[Bb]ad user name or password/);
    const file = path.join(dir, 'force', 'mqtt', 'force-2.password');
    const before = readFileSync(file, 'utf8');
    const r = await runCli([...kitArgs, '--receivers', '3']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('svc.force-2');
    expect(r.stdout).toMatch(/force-2\.password, kept/);
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('--receivers outside 1..64 is refused with what to give', async () => {
    const cases: [string, RegExp][] = [
      ['0', /--receivers 0 is too small: the least is 1/],
      ['65', /--receivers 65 is too large: the most is 64/],
      ['three', /--receivers must be a whole number/],
    ];
    for (const [bad, says] of cases) {
      const r = await runCli([...kitArgs, '--receivers', bad]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(says);
    }
  });
});
