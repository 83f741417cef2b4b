import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCommand } from '../../../daemon/src/util/child.js';
import { runCli, runCliAsNobody, writeConfig } from '../../helpers/cli.js';
import { CLI, REPO_ROOT, tempDir } from '../../helpers/paths.js';

/**
 * The unit is static and ProtectSystem=strict keeps every folder read-only but its own: a buffer moved to
 * another disk needs a ReadWritePaths drop-in made from the config (`hindsight system unit-paths`), and a
 * daemon that cannot write a configured folder stops at start naming the folder, its key and the fix.
 */
describe('folders the daemon writes outside its unit', () => {
  const dir = tempDir();
  const readWriteLines = (text: string) => text.split('\n').filter((l) => l.startsWith('ReadWritePaths='));

  it('prints a ReadWritePaths line for each folder outside /var/lib/hindsight and /run/hindsight, a folder inside another once', async () => {
    const big = path.join(dir, 'srv', 'cctv');
    const config = writeConfig(dir, {
      paths: { state_dir: '/var/lib/hindsight', buffer_dir: big, evidence_dir: path.join(big, 'evidence'), runtime_dir: '/run/hindsight' },
    }, 'moved.yaml');
    const r = await runCli(['system', 'unit-paths', '--config', config]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')).toContain('[Service]');
    expect(readWriteLines(r.stdout)).toEqual([`ReadWritePaths=-${big}`]);
    expect(r.stdout).toContain(config);

    // everything under the unit's own folders: nothing to add
    const plain = writeConfig(dir, { paths: { state_dir: '/var/lib/hindsight', runtime_dir: '/run/hindsight' } }, 'plain.yaml');
    const p = await runCli(['system', 'unit-paths', '--config', plain]);
    expect(p.code, p.stderr).toBe(0);
    expect(readWriteLines(p.stdout)).toEqual([]);
  });

  it('--write makes missing folders and the drop-in once; systemd-analyze verifies the unit with it', async () => {
    const unitDir = path.join(dir, 'units');
    mkdirSync(unitDir);
    copyFileSync(path.join(REPO_ROOT, 'systemd', 'hindsight.service'), path.join(unitDir, 'hindsight.service'));
    const dropIn = path.join(unitDir, 'hindsight.service.d', 'paths.conf');
    const state = path.join(dir, 'w-state');
    mkdirSync(state);
    const buffer = path.join(dir, 'disk2', 'buffer');
    const evidence = path.join(dir, 'disk3', 'evidence');
    const config = writeConfig(dir, { paths: { state_dir: state, buffer_dir: buffer, evidence_dir: evidence } }, 'write.yaml');

    const first = await runCli(['system', 'unit-paths', '--config', config, '--write', '--drop-in', dropIn]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(`made: ${buffer}`);
    expect(first.stdout).toContain(`written: ${dropIn}`);
    expect(statSync(buffer).isDirectory() && statSync(evidence).isDirectory()).toBe(true);
    expect(readWriteLines(readFileSync(dropIn, 'utf8'))).toEqual([state, buffer, evidence].map((f) => `ReadWritePaths=-${f}`));
    expect(statSync(dropIn).mode & 0o777).toBe(0o644);

    const second = await runCli(['system', 'unit-paths', '--config', config, '--write', '--drop-in', dropIn]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout.trim()).toBe(`unchanged: ${dropIn}`);

    const verify = await runCommand('systemd-analyze', ['verify', path.join(unitDir, 'hindsight.service')], { timeoutMs: 30_000 });
    expect(verify.code, verify.stderr).toBe(0);
    expect((verify.stdout + verify.stderr).trim()).toBe('');
  });

  it('--write by a user who may not write the drop-in: a clear error', async () => {
    const locked = path.join(dir, 'locked');
    mkdirSync(locked, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const config = writeConfig(dir, { paths: { state_dir: '/var/lib/hindsight' } }, 'locked.yaml');
    chmodSync(config, 0o644);
    const r = await runCliAsNobody(['system', 'unit-paths', '--config', config, '--write', '--drop-in', path.join(locked, 'd', 'paths.conf')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('permission denied');
    expect(r.stderr).toContain('sudo hindsight system unit-paths --write');
  });

  it('the daemon stops at start on a read-only buffer folder, naming it, its key and the command that fixes it', async () => {
    const state = path.join(dir, 'ro-state');
    const buffer = path.join(dir, 'ro-buffer');
    mkdirSync(buffer);
    const config = writeConfig(dir, { paths: { state_dir: state, buffer_dir: buffer } }, 'ro.yaml');
    // what ProtectSystem=strict does to a folder outside ReadWritePaths: a read-only mount
    const r = await runCommand('bwrap', ['--dev-bind', '/', '/', '--ro-bind', buffer, buffer, process.execPath, CLI, 'run', '--config', config], { timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot write ${buffer}, set by paths.buffer_dir`);
    expect(r.stderr).toContain('read-only');
    expect(r.stderr).toContain('hindsight system unit-paths --write');
    expect(existsSync(path.join(state, 'hindsight.db'))).toBe(false);
  });

  it('the daemon stops at start on a folder its user may not write, naming the owner fix', async () => {
    chmodSync(dir, 0o755);
    const state = path.join(dir, 'user-state');
    mkdirSync(state);
    chownSync(state, 65534, 65534);
    const buffer = path.join(dir, 'root-buffer', 'segments');
    mkdirSync(path.dirname(buffer), { mode: 0o755 });
    const config = writeConfig(dir, { paths: { state_dir: state, buffer_dir: buffer } }, 'user.yaml');
    chmodSync(config, 0o644);
    const r = await runCliAsNobody(['run', '--config', config]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot write ${buffer} (it does not exist, and ${path.dirname(buffer)} above it is not writable), set by paths.buffer_dir: permission denied`);
    expect(r.stderr).toContain(`install -d -o hindsight -g hindsight -m 0750 ${buffer}`);
  });
});
