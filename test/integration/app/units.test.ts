import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCommand } from '../../../daemon/src/util/child.js';
import { REPO_ROOT } from '../../helpers/paths.js';

/**
 * The systemd units the project ships, as systemd itself reads them (`systemd-analyze`, offline: no
 * running systemd is needed): each verifies clean, and the hardening keeps its exposure score (README)
 * from creeping up unnoticed.
 */
describe('the shipped systemd units', () => {
  const dir = path.join(REPO_ROOT, 'systemd');
  const units = readdirSync(dir).filter((f) => f.endsWith('.service'));

  it('are the box unit and the force units', () => {
    expect(units.sort()).toEqual(['hindsight-force-console.service', 'hindsight-force.service', 'hindsight.service']);
  });

  for (const unit of units) {
    it(`${unit}: systemd-analyze verify has nothing to say; exposure at most 4.0`, async () => {
      const file = path.join(dir, unit);
      const verify = await runCommand('systemd-analyze', ['verify', file], { timeoutMs: 30_000 });
      expect(verify.code, verify.stderr).toBe(0);
      expect((verify.stdout + verify.stderr).trim()).toBe('');
      const security = await runCommand('systemd-analyze', ['security', '--offline=yes', '--no-pager', file], { timeoutMs: 30_000 });
      const score = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(security.stdout.toString())?.[1]);
      process.stdout.write(`${unit}: exposure ${score}\n`);
      expect(score).toBeGreaterThan(0);
      expect(score).toBeLessThanOrEqual(4.0);
    });
  }

  it('the box unit is what the daemon expects: notify with a watchdog, children may notify, /proc hidden, its state writable, its runtime folder made', () => {
    const text = readFileSync(path.join(dir, 'hindsight.service'), 'utf8');
    for (const line of ['Type=notify', 'NotifyAccess=all', 'WatchdogSec=60', 'Restart=always', 'ProtectProc=invisible', 'ReadWritePaths=/var/lib/hindsight', 'RuntimeDirectory=hindsight', 'RuntimeDirectoryMode=0750']) expect(text.split('\n')).toContain(line);
  });
});
