import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCommand, spawnChild } from '../../../daemon/src/util/child.js';
import { REPO_ROOT } from '../../helpers/paths.js';
import { isAlive } from '../../helpers/process.js';
import { waitFor } from '../../helpers/wait.js';

describe('child processes', () => {
  it('stops with the quit input first, then escalates to SIGTERM and SIGKILL', async () => {
    // reads stdin; exits on "q"
    const polite = spawnChild(process.execPath, ['-e', "process.stdin.on('data', d => { if (String(d).includes('q')) process.exit(0) })"]);
    await new Promise((r) => setTimeout(r, 200));
    expect(await polite.stop({ quitInput: 'q', graceMs: 2000 })).toEqual({ code: 0, signal: null });

    // ignores q and SIGTERM: must be SIGKILLed
    const stubborn = spawnChild(process.execPath, ['-e', "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000)"]);
    // only once its handler is in place (a loaded machine may take longer than any fixed pause to start node)
    let said = '';
    stubborn.proc.stdout?.on('data', (d: Buffer) => (said += d.toString()));
    await waitFor(() => said.includes('ready'), { what: 'the stubborn child to install its SIGTERM handler', timeoutMs: 10_000 });
    const exit = await stubborn.stop({ quitInput: 'q', graceMs: 300 });
    expect(exit.signal).toBe('SIGKILL');
  });

  it('kills children when their parent dies by kill -9', async () => {
    // the compiled helper (the global setup builds it): a parent starts a long sleep through it, then waits
    const helper = path.join(REPO_ROOT, 'daemon', 'dist', 'util', 'child.js');
    const parent = spawnChild(
      process.execPath,
      ['-e', `import('${helper}').then(({ spawnChild }) => { const c = spawnChild('sleep', ['300']); console.log('CHILD', c.pid); setInterval(() => {}, 1000); })`],
      { dieWithParent: false },
    );
    let out = '';
    parent.proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const childPid = await waitFor(() => Number(/CHILD (\d+)/.exec(out)?.[1] ?? 0), { what: 'child pid', timeoutMs: 10_000 });
    await waitFor(() => isAlive(childPid), { what: 'child running' });
    parent.signal('SIGKILL');
    await waitFor(() => !isAlive(childPid), { what: 'child to die with its parent', timeoutMs: 5000 });
  });

  it('reports a missing program as not installed', async () => {
    await expect(runCommand('no-such-program-hs', [])).rejects.toMatchObject({ code: 'not_installed' });
  });

  it('times out a command that runs too long', async () => {
    const r = await runCommand('sleep', ['30'], { timeoutMs: 200 });
    expect(r.timedOut).toBe(true);
  });
});
