import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startDaemon, writeConfig } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/paths.js';
import type { TestProcess } from '../../helpers/process.js';
import { recorderConfigOverrides } from '../../helpers/recorder.js';

/**
 * `paths.runtime_dir` (/run/hindsight under systemd) holds the control socket, its token and the callers'
 * proofs: the daemon listens there, the CLI finds it through the same config, and the state folder holds
 * none of them.
 */
describe('the control socket in paths.runtime_dir', () => {
  let dir: string;
  let runtimeDir: string;
  let config: string;
  let daemon: TestProcess;

  beforeAll(async () => {
    dir = tempDir();
    runtimeDir = path.join(dir, 'run', 'hindsight');
    config = writeConfig(dir, { ...recorderConfigOverrides(), paths: { runtime_dir: runtimeDir } });
    daemon = startDaemon(config);
    await daemon.waitForLine(/"msg":"hindsight running"/, 60_000);
  });

  afterAll(async () => {
    await daemon?.stop();
  });

  it('the daemon listens in the runtime folder, owner-only, and leaves nothing of it in the state folder', () => {
    expect(statSync(path.join(runtimeDir, 'control.sock')).isSocket()).toBe(true);
    expect(statSync(path.join(runtimeDir, 'control.sock')).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(runtimeDir, 'control.token')).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(runtimeDir, 'control.peers')).isDirectory()).toBe(true);
    for (const name of ['control.sock', 'control.token', 'control.peers']) expect(existsSync(path.join(dir, 'state', name)), name).toBe(false);
  });

  it('the CLI reaches the daemon through the config, and a config naming another runtime folder finds no daemon there', async () => {
    const list = await runCli(['incident', 'list', '--config', config, '--json']);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([]);

    const elsewhere = writeConfig(dir, { paths: { runtime_dir: path.join(dir, 'other-run') } }, 'elsewhere.yaml');
    const missed = await runCli(['incident', 'list', '--config', elsewhere]);
    expect(missed.code).toBe(1);
    expect(missed.stderr).toContain(`no control socket at ${path.join(dir, 'other-run', 'control.sock')}`);
  });

  it('at stop the socket and token are removed', async () => {
    await daemon.stop();
    expect(existsSync(path.join(runtimeDir, 'control.sock'))).toBe(false);
    expect(existsSync(path.join(runtimeDir, 'control.token'))).toBe(false);
  });
});
