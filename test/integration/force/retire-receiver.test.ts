import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openForceDb } from '../../../daemon/src/force/database.js';
import { forcePaths } from '../../../daemon/src/force/paths.js';
import { runCli } from '../../helpers/cli.js';
import { startKitBroker, type KitBroker } from '../../helpers/kit-broker.js';
import { tempDir } from '../../helpers/paths.js';
import { waitFor } from '../../helpers/wait.js';

const EV = 'ef'.repeat(16);
const SHARE = '$share/hindsight-receivers/hindsight/v1/+/ev/+/+';

/**
 * `hindsight-force retire-receiver` on the broker kit `broker-config --receivers 3` writes, on a real
 * Mosquitto: a receiver that is stopped keeps its share of the intake (its persistent session stays in the
 * shared subscription and the broker queues messages there); once retired, its live connection is dropped,
 * its login refused, and every message goes to the receivers left.
 */
describe('retiring one of three receivers', () => {
  let dir: string;
  let force: string;
  let kit: KitBroker;
  let port = 0;
  let ca = '';
  let kitArgs: string[] = [];
  const secretOf = (n: number): string => readFileSync(n === 1 ? path.join(force, 'mqtt', 'force.password') : path.join(force, 'mqtt', `force-${n}.password`), 'utf8').trim();
  const userOf = (n: number): string => (n === 1 ? 'svc.force' : `svc.force-${n}`);
  const connect = (username: string, password: string): Promise<mqtt.MqttClient> =>
    mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, { ca: readFileSync(ca), username, password, clientId: username, clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 3600 }, reconnectPeriod: 0, connectTimeout: 5000 });
  const retire = (n: string) => runCli(['force', 'retire-receiver', '--dir', force, '--receiver', n], { timeoutMs: 30_000 });

  /** Receivers 1..count, live, each counting the messages the shared subscription hands it. */
  async function receivers(ns: number[]): Promise<{ clients: mqtt.MqttClient[]; got: Map<number, number> }> {
    const got = new Map<number, number>(ns.map((n) => [n, 0]));
    const clients: mqtt.MqttClient[] = [];
    for (const n of ns) {
      const c = await connect(userOf(n), secretOf(n));
      c.on('message', () => got.set(n, got.get(n)! + 1));
      await c.subscribeAsync(SHARE, { qos: 1 });
      clients.push(c);
    }
    return { clients, got };
  }
  async function publishFromBox(count: number): Promise<void> {
    const box = await connect('box-a', kit.boxPassword('box-a'));
    for (let i = 0; i < count; i++) await box.publishAsync(`hindsight/v1/box-a/ev/${EV}/${i}`, 'chunk', { qos: 1 });
    await box.endAsync();
  }

  beforeAll(async () => {
    dir = tempDir('hs-retire-');
    kit = await startKitBroker(dir, { devices: ['box-a'], receivers: 3 });
    ({ force, port, ca, kitArgs } = kit);
  });
  afterAll(async () => {
    await kit?.broker.stop();
  });

  it('refuses receiver 1, one in the middle and one that has no identity, saying which to give', async () => {
    const cases: [string, RegExp][] = [
      ['1', /receiver 1 \(svc\.force\) is the installation's own broker login[\s\S]*retire receivers 2 and up/],
      ['2', /receiver 2 is not the last one: retire receiver 3 first/],
      ['4', /receiver 4 has no broker identity[\s\S]*the receivers with one: 2, 3/],
      ['0', /--receiver 0 is too small/],
      ['x', /--receiver must be a whole number/],
    ];
    for (const [n, says] of cases) {
      const r = await retire(n);
      expect(r.code, n).not.toBe(0);
      expect(r.stderr, n).toMatch(says);
    }
    expect(existsSync(path.join(force, 'mqtt', 'force-3.password'))).toBe(true);
    // the kit made again for fewer receivers says what is left to do
    const fewer = await runCli([...kitArgs, '--receivers', '2']);
    expect(fewer.code, fewer.stderr).toBe(0);
    expect(fewer.stdout).toMatch(/note: receiver 3 still has a broker login beyond --receivers 2[\s\S]*hindsight-force retire-receiver --dir .* --receiver 3/);
    // back to three (the broker was not reloaded in between: it still runs the three receivers' ACL)
    expect((await runCli([...kitArgs, '--receivers', '3'])).code).toBe(0);
  });

  it('a stopped receiver keeps its share until it is retired; then its connection is dropped, its login refused, and the others get every message', async () => {
    // receiver 3 subscribes, then stops: its session stays in the shared subscription
    const third = await connect(userOf(3), secretOf(3));
    await third.subscribeAsync(SHARE, { qos: 1 });
    await third.endAsync();
    const before = await receivers([1, 2]);
    await publishFromBox(30);
    await new Promise((r) => setTimeout(r, 1500));
    const reached = before.got.get(1)! + before.got.get(2)!;
    expect(reached, 'messages queued for the stopped receiver 3').toBeLessThan(30);

    // receiver 3 comes back (it takes what was queued for it) and is running when it is retired
    const oldSecret = secretOf(3);
    const back = await connect(userOf(3), oldSecret);
    const dropped = new Promise<void>((resolve) => back.once('close', () => resolve()));
    const r = await retire('3');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/receiver 3 \(svc\.force-3\) retired/);
    expect(r.stdout).toMatch(/receivers left: svc\.force, svc\.force-2/);
    await dropped;
    await expect(connect(userOf(3), oldSecret)).rejects.toThrow(/[Nn]ot authorized|[Bb]ad user name or password/);

    // nothing of it is left: login, ACL, files; and its retirement is in the force's audit log
    expect(readFileSync(forcePaths(force).brokerPasswd, 'utf8')).not.toMatch(/^svc\.force-3:/m);
    expect(readFileSync(path.join(force, 'broker', 'acl'), 'utf8')).not.toContain('svc.force-3');
    expect(readFileSync(path.join(force, 'broker', 'acl'), 'utf8')).toContain('user svc.force-2');
    expect(existsSync(path.join(force, 'mqtt', 'force-3.password'))).toBe(false);
    expect(existsSync(path.join(force, 'mqtt', 'receiver-3.env'))).toBe(false);
    const fdb = openForceDb(force);
    try {
      expect(fdb.db.prepare("SELECT object_ids FROM audit WHERE action = 'broker.receiver_retired'").all()).toEqual([{ object_ids: '["svc.force-3"]' }]);
      expect(fdb.audit.verify().ok).toBe(true);
    } finally {
      fdb.close();
    }

    // every message now reaches receivers 1 and 2
    for (const n of [1, 2]) before.got.set(n, 0);
    await publishFromBox(30);
    await waitFor(() => before.got.get(1)! + before.got.get(2)! === 30, { timeoutMs: 10_000, what: 'all 30 messages at receivers 1 and 2' });
    for (const c of before.clients) await c.endAsync();

    // receiver 2 is now the last one; a second retirement of 3 says there is none
    const again = await retire('3');
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/receiver 3 has no broker identity[\s\S]*the receivers with one: 2/);
  });
});
