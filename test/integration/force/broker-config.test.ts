import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki } from '../../helpers/mosquitto.js';
import { ManagedProcess } from '../../../daemon/src/devkit/process.js';
import { runCli } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/paths.js';
import { freePort, waitForPort } from '../../helpers/ports.js';
import { tcpSockets } from '../../helpers/process.js';

/** TCP ports on which process `pid` listens. */
function listeningPorts(pid: number): number[] {
  return [...new Set(tcpSockets(pid).filter((s) => s.state === '0A').map((s) => s.localPort))].sort((a, b) => a - b);
}

const EV = 'cd'.repeat(16);

describe('the broker config `force broker-config` writes, on a real Mosquitto', () => {
  let dir: string;
  let broker: ManagedProcess;
  let port = 0;
  let ca = '';
  const password = (id: string): string => (JSON.parse(readFileSync(path.join(dir, 'force', 'bundles', `${id}.bundle.json`), 'utf8')) as { mqtt: { password: string } }).mqtt.password;
  const connect = (username: string, clientId: string): Promise<mqtt.MqttClient> =>
    new Promise((resolve, reject) => {
      const c = mqtt.connect(`mqtts://127.0.0.1:${port}`, { ca: readFileSync(ca), username, password: password(username), clientId, clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 3600 }, reconnectPeriod: 0, connectTimeout: 5000 });
      c.once('connect', () => resolve(c));
      c.once('error', (e) => reject(e));
    });

  beforeAll(async () => {
    dir = tempDir('hs-brokerconf-');
    const force = path.join(dir, 'force');
    const pki = await makeTestPki(path.join(dir, 'pki'));
    ca = pki.ca;
    port = await freePort();
    const cli = async (args: string[]): Promise<void> => {
      const r = await runCli(args);
      if (r.code !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
    };
    await cli(['force', 'keygen', '--dir', force, '--broker-url', `mqtts://127.0.0.1:${port}`]);
    for (const id of ['box-a', 'box-b']) await cli(['force', 'enroll', '--dir', force, '--device', id, '--broker-url', `mqtts://127.0.0.1:${port}`, '--ca', pki.ca]);
    await cli(['force', 'broker-config', '--dir', force, '--port', String(port), '--bind', '127.0.0.1', '--certfile', pki.cert, '--keyfile', pki.key, '--cafile', pki.ca]);
    // The operator's mosquitto.conf: only what is not the kit's, then the kit's folder included unchanged.
    const main = path.join(dir, 'mosquitto.conf');
    writeFileSync(main, [`user ${os.userInfo().username}`, `persistence_location ${dir}/`, 'log_dest stdout', `include_dir ${path.join(force, 'broker')}`, ''].join('\n'));
    broker = new ManagedProcess('mosquitto', ['-c', main]);
    await waitForPort(port, 15_000);
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('only the TLS port listens (no plain-text default listener)', () => {
    expect(listeningPorts(broker.pid)).toEqual([port]);
  });

  it("a box asking for another box's client id does not take over its session", async () => {
    const b = await connect('box-b', 'box-b');
    const closed = once(b, 'close').then(() => 'closed');
    const a = await connect('box-a', 'box-b');
    await a.publishAsync(`hindsight/v1/box-a/ev/${EV}/m`, 'own', { qos: 1 }); // a round trip after the takeover attempt
    const r = await Promise.race([b.publishAsync(`hindsight/v1/box-b/ev/${EV}/m`, 'still here', { qos: 1 }).then(() => 'acked'), closed]);
    expect(r).toBe('acked');
    a.end(true);
    b.end(true);
  });
});
