import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { ManagedProcess } from '../../daemon/src/devkit/process.js';
import { forcePaths } from '../../daemon/src/force/paths.js';
import { runCli } from './cli.js';
import { makeTestPki } from './mosquitto.js';
import { freePort, waitForPort } from './ports.js';

/** A force installation and the Mosquitto that runs the kit `broker-config` wrote for it, as an operator sets them up. */
export interface KitBroker {
  /** The force installation folder. */
  force: string;
  port: number;
  /** The CA certificate (PEM file) of the broker's test PKI. */
  ca: string;
  /** `hindsight force broker-config` with this installation's options: add `--receivers N` to run it again. */
  kitArgs: string[];
  broker: ManagedProcess;
  /** The broker's pid file, also set as `broker.pid_file` in force.yaml (what `revoke` and `retire-receiver` signal). */
  pidFile: string;
  /** An enrolled box's broker password, from its enrollment bundle. */
  boxPassword(id: string): string;
}

/**
 * `force keygen`, `force enroll` of `devices`, `force broker-config` (with `--receivers`), then Mosquitto on
 * a free loopback port with the operator's mosquitto.conf: only what is not the kit's (user, pid file,
 * persistence folder, log), then the kit's folder included unchanged, as the README says to do.
 */
export async function startKitBroker(dir: string, o: { devices: string[]; receivers?: number }): Promise<KitBroker> {
  const force = path.join(dir, 'force');
  const pki = await makeTestPki(path.join(dir, 'pki'));
  const port = await freePort();
  const cli = async (args: string[]): Promise<void> => {
    const r = await runCli(args);
    if (r.code !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
  };
  const url = `mqtts://127.0.0.1:${port}`;
  await cli(['force', 'keygen', '--dir', force, '--broker-url', url, '--ca', pki.ca]);
  for (const id of o.devices) await cli(['force', 'enroll', '--dir', force, '--device', id, '--broker-url', url, '--ca', pki.ca]);
  const kitArgs = ['force', 'broker-config', '--dir', force, '--port', String(port), '--bind', '127.0.0.1', '--certfile', pki.cert, '--keyfile', pki.key, '--cafile', pki.ca];
  await cli([...kitArgs, ...(o.receivers ? ['--receivers', String(o.receivers)] : [])]);
  const pidFile = path.join(dir, 'mosquitto.pid');
  const main = path.join(dir, 'mosquitto.conf');
  writeFileSync(main, [`user ${os.userInfo().username}`, `pid_file ${pidFile}`, `persistence_location ${dir}/`, 'log_dest stdout', `include_dir ${path.join(force, 'broker')}`, ''].join('\n'));
  const broker = new ManagedProcess('mosquitto', ['-c', main]);
  await waitForPort(port, 15_000);
  const config = forcePaths(force).config;
  const doc = (parse(readFileSync(config, 'utf8')) ?? {}) as Record<string, unknown>;
  writeFileSync(config, stringify({ ...doc, broker: { pid_file: pidFile } }), { mode: 0o600 });
  return {
    force,
    port,
    ca: pki.ca,
    kitArgs,
    broker,
    pidFile,
    boxPassword: (id) => (JSON.parse(readFileSync(path.join(force, 'bundles', `${id}.bundle.json`), 'utf8')) as { mqtt: { password: string } }).mqtt.password,
  };
}
