import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../../daemon/src/util/child.js';
import type { CliResult } from '../../helpers/cli.js';
import { REPO_ROOT, tempDir } from '../../helpers/paths.js';
import { TestProcess } from '../../helpers/process.js';

/**
 * scripts/install.sh as it ships, run as root in a bubblewrap sandbox whose /etc (a copy), /opt,
 * /usr/local/bin, /var/lib, /srv and /run are temporary, without systemd as the service manager: the
 * user, folders, program, config, units and commands it makes, a second run that changes nothing, and an
 * uninstall that keeps the evidence unless --purge. The checkout is read-only in there.
 */
const INSTALL = path.join(REPO_ROOT, 'scripts', 'install.sh');
const QUICK = ['--no-packages', '--no-build'];

interface Sandbox {
  root: string;
  /** The host path of a path inside the sandbox. */
  host(p: string): string;
  args(cmd: string[]): string[];
  run(cmd: string[], env?: Record<string, string>): Promise<CliResult>;
  /** A user of the sandbox's passwd: uid and gid, or undefined. */
  user(name: string): { uid: number; gid: number } | undefined;
}

function sandbox(): Sandbox {
  const root = tempDir('hs-install-');
  execFileSync('cp', ['-a', '/etc', path.join(root, 'etc')]);
  const mounts: [string, string][] = [
    ['etc', '/etc'],
    ['opt', '/opt'],
    ['usr-local-bin', '/usr/local/bin'],
    ['var-lib', '/var/lib'],
    ['srv', '/srv'],
  ];
  for (const [dir] of mounts) mkdirSync(path.join(root, dir), { recursive: true });
  const host = (p: string): string => {
    const m = mounts.find(([, inside]) => p === inside || p.startsWith(inside + '/'));
    if (!m) throw new Error(`${p} is not a sandbox path`);
    return path.join(root, m[0], p.slice(m[1].length));
  };
  const args = (cmd: string[]): string[] => [
    '--dev-bind', '/', '/',
    ...mounts.flatMap(([dir, inside]) => ['--bind', path.join(root, dir), inside]),
    '--tmpfs', '/run',
    '--ro-bind', REPO_ROOT, REPO_ROOT,
    '--ro-bind', realpathSync(path.join(REPO_ROOT, 'node_modules')), realpathSync(path.join(REPO_ROOT, 'node_modules')),
    '--unshare-pid', '--die-with-parent', '--chdir', '/',
    '--setenv', 'PATH', '/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin',
    ...cmd,
  ];
  const run = async (cmd: string[], env: Record<string, string> = {}): Promise<CliResult> => {
    const r = await runCommand('bwrap', args(cmd), { env: { ...process.env, ...env }, timeoutMs: 300_000 });
    return { code: r.code, stdout: r.stdout.toString('utf8'), stderr: r.stderr };
  };
  const user = (name: string) => {
    const line = readFileSync(host('/etc/passwd'), 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
    if (!line) return undefined;
    const [, , uid, gid] = line.split(':');
    return { uid: Number(uid), gid: Number(gid) };
  };
  return { root, host, args, run, user };
}

const modeOf = (file: string) => statSync(file).mode & 0o7777;

describe('scripts/install.sh refuses bad input with exit code 2', () => {
  const sb = sandbox();
  const cases: [string, string[], string][] = [
    ['an unknown option', ['--frobnicate'], 'unknown option: --frobnicate'],
    ['both --box and --force', ['--box', '--force'], 'give one of --box and --force, not both'],
    ['--purge without --uninstall', ['--purge'], '--purge goes with --uninstall'],
    ['a relative --prefix', ['--prefix', 'opt/hs'], '--prefix must be an absolute folder'],
    ['--prefix without a folder', ['--prefix'], '--prefix needs a folder'],
  ];
  for (const [what, args, message] of cases) {
    it(what, async () => {
      const r = await sb.run([INSTALL, ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stderr).toContain('what to do:');
      expect(r.stderr).toContain('usage: scripts/install.sh');
    });
  }

  it('not root', async () => {
    // a copy nobody can reach: the checkout may sit in a folder only its owner may enter (a mktemp clone)
    const copy = sb.host('/srv/install.sh');
    copyFileSync(INSTALL, copy);
    chmodSync(path.dirname(copy), 0o755);
    chmodSync(copy, 0o755);
    const r = await sb.run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '/srv/install.sh', ...QUICK]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('must run as root');
    expect(r.stderr).toContain('what to do: run: sudo');
    expect(sb.user('hindsight')).toBeUndefined();
  });
});

describe('scripts/install.sh on a box', () => {
  const sb = sandbox();
  let first: CliResult;
  let daemon: TestProcess | undefined;

  beforeAll(async () => {
    first = await sb.run([INSTALL, ...QUICK]);
  }, 300_000);

  afterAll(async () => {
    await daemon?.stop();
  });

  it('makes the user, its folders, the config, the program, the units and the command', () => {
    expect(first.code, first.stderr + first.stdout).toBe(0);
    const user = sb.user('hindsight')!;
    expect(user).toBeDefined();
    expect(readFileSync(sb.host('/etc/passwd'), 'utf8')).toMatch(/^hindsight:x:\d+:\d+:[^:]*:\/var\/lib\/hindsight:/m);

    const state = statSync(sb.host('/var/lib/hindsight'));
    expect([state.uid, state.gid, modeOf(sb.host('/var/lib/hindsight'))]).toEqual([user.uid, user.gid, 0o750]);
    const etc = statSync(sb.host('/etc/hindsight'));
    expect([etc.uid, etc.gid, modeOf(sb.host('/etc/hindsight'))]).toEqual([0, user.gid, 0o750]);
    const config = sb.host('/etc/hindsight/config.yaml');
    expect([statSync(config).uid, statSync(config).gid, modeOf(config)]).toEqual([0, user.gid, 0o640]);
    expect(readFileSync(config, 'utf8')).toMatch(/^ {2}runtime_dir: \/run\/hindsight\b/m);

    expect(readFileSync(sb.host('/etc/systemd/system/hindsight.service'), 'utf8')).toBe(readFileSync(path.join(REPO_ROOT, 'systemd', 'hindsight.service'), 'utf8'));
    expect(readFileSync(sb.host('/etc/systemd/system/hindsight.service.d/paths.conf'), 'utf8')).toContain('[Service]');
    expect(modeOf(sb.host('/usr/local/bin/hindsight'))).toBe(0o755);
    expect(existsSync(sb.host('/opt/hindsight/daemon/dist/cli/main.js'))).toBe(true);
    expect(existsSync(sb.host('/opt/hindsight/scripts/install.sh'))).toBe(true);
    // production modules only: a runtime dependency is there, a test-only one is not
    expect(existsSync(sb.host('/opt/hindsight/node_modules/fastify/package.json'))).toBe(true);
    expect(existsSync(sb.host('/opt/hindsight/node_modules/vitest'))).toBe(false);
    expect(first.stdout).toContain('systemd is not running here');
    expect(first.stdout).toContain("setup code is made at the daemon's first start");
  });

  it('`hindsight` on the PATH runs as the daemon user when root calls it: --version, doctor, and the files it makes are the daemon\'s', async () => {
    const version = await sb.run(['hindsight', '--version']);
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout).toContain(JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).version);

    const doctor = await sb.run(['hindsight', 'doctor']);
    expect(doctor.code, doctor.stdout + doctor.stderr).toBe(0);
    expect(doctor.stdout).toContain('config: /etc/hindsight/config.yaml');
    expect(doctor.stdout).toContain('/var/lib/hindsight writable');

    const add = await sb.run(['hindsight', 'camera', 'add', '--id', 'door', '--name', 'Door', '--url', 'rtsp://192.168.1.10/stream', '--disabled']);
    expect(add.code, add.stderr).toBe(0);
    const user = sb.user('hindsight')!;
    expect(statSync(sb.host('/var/lib/hindsight/hindsight.db')).uid).toBe(user.uid);
    const audit = await sb.run(['hindsight', 'audit', 'export']);
    expect(audit.code, audit.stderr).toBe(0);
    expect(audit.stdout).toContain('"actor":{"type":"cli","id":"hindsight"}');
  });

  it('a second run changes nothing and keeps the operator\'s config as it is', async () => {
    const config = sb.host('/etc/hindsight/config.yaml');
    appendFileSync(config, '# edited by the operator\n');
    const before = readFileSync(config, 'utf8');
    const again = await sb.run([INSTALL, ...QUICK]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('config /etc/hindsight/config.yaml: kept');
    expect(again.stdout).toContain('nothing changed: everything was already in place');
    expect(readFileSync(config, 'utf8')).toBe(before);
  });

  it('prints the web app\'s first-run setup code once the daemon has made it', async () => {
    // the daemon as systemd would start it: its runtime folder made for it, on a free loopback port
    daemon = new TestProcess('bwrap', sb.args(['sh', '-c', 'install -d -o hindsight -g hindsight -m 0750 /run/hindsight && exec hindsight run']), {
      env: { ...process.env, HINDSIGHT_WEB__HOST: '127.0.0.1', HINDSIGHT_WEB__PORT: '0' },
    });
    const made = (await daemon.waitForLine(/"setup_code":"([^"]+)"/, 90_000))[1];
    await daemon.stop();
    daemon = undefined;
    const again = await sb.run([INSTALL, ...QUICK]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`First-run setup code of the web app: ${made}`);
    expect(again.stdout).toContain('nothing changed');
  });

  it('--uninstall (from the installed copy) removes the units, the command and the program, and keeps the evidence, the config and the user', async () => {
    const r = await sb.run(['/opt/hindsight/scripts/install.sh', '--uninstall']);
    expect(r.code, r.stderr).toBe(0);
    for (const p of ['/etc/systemd/system/hindsight.service', '/etc/systemd/system/hindsight.service.d', '/usr/local/bin/hindsight', '/opt/hindsight']) expect(existsSync(sb.host(p)), p).toBe(false);
    expect(existsSync(sb.host('/var/lib/hindsight/hindsight.db'))).toBe(true);
    expect(readFileSync(sb.host('/etc/hindsight/config.yaml'), 'utf8')).toContain('# edited by the operator');
    expect(sb.user('hindsight')).toBeDefined();
    expect(r.stdout).toContain('kept /var/lib/hindsight');

    const twice = await sb.run([INSTALL, '--uninstall']);
    expect(twice.code, twice.stderr).toBe(0);
    expect(twice.stdout).toContain('nothing to remove');
  });

  it('--uninstall --purge removes the state, the config and the user', async () => {
    const r = await sb.run([INSTALL, '--uninstall', '--purge']);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(sb.host('/var/lib/hindsight'))).toBe(false);
    expect(existsSync(sb.host('/etc/hindsight'))).toBe(false);
    expect(sb.user('hindsight')).toBeUndefined();
  });
});

describe('scripts/install.sh --force, in another prefix', () => {
  const sb = sandbox();
  const prefix = ['--prefix', '/opt/hs'];

  it('makes the force user and folder, both units, and both commands; runs them as the force user; a second run changes nothing', async () => {
    const r = await sb.run([INSTALL, '--force', ...prefix, ...QUICK]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const user = sb.user('hindsight-force')!;
    expect(user).toBeDefined();
    const home = statSync(sb.host('/srv/hindsight-force'));
    expect([home.uid, home.gid, modeOf(sb.host('/srv/hindsight-force'))]).toEqual([user.uid, user.gid, 0o700]);
    for (const unit of ['hindsight-force.service', 'hindsight-force-console.service']) {
      const shipped = readFileSync(path.join(REPO_ROOT, 'systemd', unit), 'utf8');
      expect(shipped).toContain('/opt/hindsight/daemon/dist/force/main.js');
      expect(readFileSync(sb.host(`/etc/systemd/system/${unit}`), 'utf8')).toBe(shipped.replaceAll('/opt/hindsight/', '/opt/hs/'));
    }
    expect(existsSync(sb.host('/opt/hs/daemon/dist/force/main.js'))).toBe(true);
    expect(existsSync(sb.host('/etc/systemd/system/hindsight.service'))).toBe(false);
    expect(existsSync(sb.host('/etc/hindsight'))).toBe(false);
    for (const c of ['hindsight', 'hindsight-force']) expect(modeOf(sb.host(`/usr/local/bin/${c}`))).toBe(0o755);

    const keygen = await sb.run(['hindsight-force', 'keygen', '--dir', '/srv/hindsight-force', '--broker-url', 'mqtts://127.0.0.1:8883']);
    expect(keygen.code, keygen.stderr).toBe(0);
    expect(statSync(sb.host('/srv/hindsight-force/force.yaml')).uid).toBe(user.uid);

    const again = await sb.run([INSTALL, '--force', ...prefix, ...QUICK]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('nothing changed');
  });

  it('--uninstall --purge removes the force installation and its user', async () => {
    const r = await sb.run([INSTALL, '--force', ...prefix, '--uninstall', '--purge']);
    expect(r.code, r.stderr).toBe(0);
    for (const p of ['/etc/systemd/system/hindsight-force.service', '/etc/systemd/system/hindsight-force-console.service', '/usr/local/bin/hindsight-force', '/usr/local/bin/hindsight', '/opt/hs', '/srv/hindsight-force']) expect(existsSync(sb.host(p)), p).toBe(false);
    expect(sb.user('hindsight-force')).toBeUndefined();
  });
});
