import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCommand } from '../util/child.js';
import { freePort, waitForPort } from './net.js';
import { ManagedProcess } from './process.js';

export interface BrokerUser {
  username: string;
  password: string;
}

export interface BrokerOptions {
  /** Folder for config, certificates, password file and persistence. */
  dir: string;
  users: BrokerUser[];
  /** Mosquitto ACL file text; default lets every user read and write everything. */
  acl?: string;
  /** Extra mosquitto.conf lines (e.g. message_size_limit). */
  extraConfig?: string[];
  /**
   * Use this Mosquitto password file (e.g. the force's generated broker kit) instead of one made from
   * `users`; `reload()` makes the broker read it again after enrollments.
   */
  passwordFile?: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const r = await runCommand('openssl', args, { cwd, timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
}

/** A throw-away CA and a server certificate for 127.0.0.1/localhost (P-256, two days). */
export async function makeTestPki(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  mkdirSync(dir, { recursive: true });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=hindsight test CA'], dir);
  await openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'], dir);
  writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'san.ext'], dir);
  return { ca: path.join(dir, 'ca.crt'), cert: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key') };
}

/**
 * A private Mosquitto (demo, tests, benchmarks): TLS on a free loopback port (generated CA), password file,
 * ACLs, and persistence that survives `kill -9` (autosave after every change).
 */
export class TestBroker {
  port = 0;
  ca = '';
  private proc: ManagedProcess | undefined;
  private confFile = '';

  constructor(private readonly options: BrokerOptions) {}

  get url(): string {
    return `mqtts://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.proc?.pid ?? -1;
  }

  get log(): string {
    return this.proc?.output ?? '';
  }

  /** The pid file Mosquitto writes (its `pid_file` setting), as `hindsight-force revoke` finds a broker. */
  get pidFile(): string {
    return path.join(this.options.dir, 'mosquitto.pid');
  }

  async start(): Promise<this> {
    if (!this.confFile) await this.prepare();
    this.proc = new ManagedProcess('mosquitto', ['-c', this.confFile]);
    await waitForPort(this.port, 15_000);
    return this;
  }

  private async prepare(): Promise<void> {
    const dir = this.options.dir;
    mkdirSync(path.join(dir, 'data'), { recursive: true });
    const pki = await makeTestPki(path.join(dir, 'pki'));
    this.ca = pki.ca;
    this.port = await freePort();
    const passwd = this.options.passwordFile ?? path.join(dir, 'passwd');
    if (!this.options.passwordFile) writeFileSync(passwd, '');
    for (const u of this.options.users) {
      const r = await runCommand('mosquitto_passwd', ['-b', passwd, u.username, u.password], { timeoutMs: 10_000 });
      if (r.code !== 0) throw new Error(`mosquitto_passwd: ${r.stderr}`);
    }
    const acl = path.join(dir, 'acl');
    writeFileSync(acl, this.options.acl ?? 'pattern readwrite #\n');
    const user = os.userInfo().username;
    this.confFile = path.join(dir, 'mosquitto.conf');
    writeFileSync(
      this.confFile,
      [
        `user ${user}`,
        'per_listener_settings false',
        'allow_anonymous false',
        `password_file ${passwd}`,
        `acl_file ${acl}`,
        'persistence true',
        `persistence_location ${path.join(dir, 'data')}/`,
        `pid_file ${this.pidFile}`,
        // Without these, kill -9 loses sessions and queued QoS 1 messages.
        'autosave_interval 1',
        'autosave_on_changes true',
        'log_dest stdout',
        'log_type error',
        'log_type warning',
        'log_type notice',
        'log_type information',
        'connection_messages true',
        `listener ${this.port} 127.0.0.1`,
        `cafile ${pki.ca}`,
        `certfile ${pki.cert}`,
        `keyfile ${pki.key}`,
        'tls_version tlsv1.2',
        ...(this.options.extraConfig ?? []),
        '',
      ].join('\n'),
    );
  }

  /** SIGHUP: Mosquitto reads its password and ACL files again (new enrollments). */
  reload(): void {
    this.proc?.child.signal('SIGHUP');
  }

  async kill9(): Promise<void> {
    await this.proc?.kill9();
  }

  /** Start again on the same port with the same persistence (after kill9 or stop). */
  async restart(): Promise<void> {
    if (this.proc?.child.running) await this.proc.kill9();
    await this.start();
  }

  async stop(): Promise<void> {
    await this.proc?.stop();
  }
}

export async function startBroker(options: BrokerOptions): Promise<TestBroker> {
  return new TestBroker(options).start();
}
