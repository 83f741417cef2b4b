import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../helpers/paths.js';

/** The force side's systemd units as shipped: `systemd-analyze verify` finds nothing, and they run the right commands hardened. */
describe('systemd units of the force side', () => {
  const units = ['hindsight-force.service', 'hindsight-force-console.service'].map((u) => path.join(REPO_ROOT, 'systemd', u));

  it.skipIf(!existsSync('/usr/bin/systemd-analyze'))('verify cleanly', () => {
    const r = spawnSync('/usr/bin/systemd-analyze', ['verify', ...units], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.trim(), 'no warning').toBe('');
  });

  it('run the receiver and the console as their own user, with the force folder the only writable path', () => {
    const [receiver, console_] = units.map((u) => readFileSync(u, 'utf8'));
    expect(receiver).toMatch(/^ExecStart=\/usr\/bin\/node \/opt\/hindsight\/daemon\/dist\/force\/main\.js receive$/m);
    expect(console_).toMatch(/^ExecStart=\/usr\/bin\/node \/opt\/hindsight\/daemon\/dist\/force\/main\.js console$/m);
    for (const u of [receiver!, console_!]) {
      expect(u).toMatch(/^User=hindsight-force$/m);
      expect(u).toMatch(/^ReadWritePaths=\/srv\/hindsight-force$/m);
      for (const h of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'CapabilityBoundingSet=', 'UMask=0077']) expect(u).toContain(h);
    }
    expect(readFileSync(path.join(REPO_ROOT, 'systemd', 'hindsight-force.sysusers.conf'), 'utf8')).toMatch(/^u hindsight-force /m);
  });
});
