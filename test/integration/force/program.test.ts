import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCommand } from '../../../daemon/src/util/child.js';
import { runCli } from '../../helpers/cli.js';
import { REPO_ROOT, tempDir } from '../../helpers/paths.js';

const FORCE = path.join(REPO_ROOT, 'daemon', 'dist', 'force', 'main.js');
const force = async (args: string[]) => {
  const r = await runCommand(process.execPath, [FORCE, ...args], { timeoutMs: 60_000 });
  return { code: r.code, stdout: r.stdout.toString('utf8'), stderr: r.stderr };
};

describe('the force is its own program', () => {
  it('hindsight-force has the force commands; a shop box does not list them; the old spelling works and says where they went', async () => {
    const box = await runCli(['--help']);
    expect(box.code).toBe(0);
    expect(box.stdout).not.toMatch(/^\s+force\b/m);

    const help = await force(['--help']);
    expect(help.code).toBe(0);
    for (const cmd of ['keygen', 'rotate', 'revoke-key', 'enroll', 'register', 'revoke', 'broker-config', 'receive', 'open', 'incidents', 'search']) expect(help.stdout).toMatch(new RegExp(`^\\s+${cmd}\\b`, 'm'));
    expect((await force(['--version'])).stdout).toMatch(/^hindsight-force \d+\.\d+\.\d+/);
    expect((await force(['keygen'])).code).toBe(2);

    const dir = tempDir();
    const made = await force(['keygen', '--dir', path.join(dir, 'a'), '--broker-url', 'mqtts://127.0.0.1:8883']);
    expect([made.code, made.stderr]).toEqual([0, '']);
    expect(existsSync(path.join(dir, 'a', 'force.yaml'))).toBe(true);

    const old = await runCli(['force', 'keygen', '--dir', path.join(dir, 'b'), '--broker-url', 'mqtts://127.0.0.1:8883']);
    expect(old.code, old.stderr).toBe(0);
    expect(old.stderr).toMatch(/note: the force's commands are now their own program: hindsight-force keygen/);
    expect(existsSync(path.join(dir, 'b', 'force.yaml'))).toBe(true);
  });
});
