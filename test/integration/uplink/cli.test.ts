import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TOPICS } from '../../../daemon/src/protocol/topics.js';
import { runCli } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/paths.js';

describe('uplink and force command lines', () => {
  it('every new command has --help; usage errors exit 2', async () => {
    const cmds = [['enroll'], ['evidence'], ['evidence', 'seal'], ['uplink'], ['uplink', 'status'], ['force'], ['force', 'keygen'], ['force', 'rotate'], ['force', 'enroll'], ['force', 'register'], ['force', 'revoke'], ['force', 'broker-config'], ['force', 'receive'], ['force', 'open'], ['force', 'incidents'], ['force', 'search'], ['force', 'gallery'], ['force', 'gallery', 'import'], ['force', 'triage'], ['force', 'triage', 'accept'], ['force', 'candidates']];
    for (const cmd of cmds) {
      const r = await runCli([...cmd, '--help']);
      expect(r.code, cmd.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/Usage: hindsight/);
    }
    expect((await runCli(['force', 'enroll', '--dir', '/nonexistent'])).code).toBe(2);
    expect((await runCli(['enroll'])).code).toBe(2);
  });

  it('keygen writes 0600 keys and refuses to overwrite; broker-config writes the ACL from the topic table', async () => {
    const dir = path.join(tempDir(), 'force');
    const placeholder = await runCli(['force', 'keygen', '--dir', dir]);
    expect([placeholder.code, placeholder.stderr]).toEqual([2, expect.stringContaining('--broker-url')]);
    expect(existsSync(dir), 'nothing written without a broker').toBe(false);
    const k = await runCli(['force', 'keygen', '--dir', dir, '--broker-url', 'mqtts://force.example:8883']);
    expect(k.code, k.stderr).toBe(0);
    expect(readFileSync(path.join(dir, 'force.yaml'), 'utf8')).toContain('mqtts://force.example:8883');
    for (const f of ['keys/root.key', 'keys/receipt.key', 'keys/command-admin.key', 'mqtt/force.password', 'broker/passwd']) {
      expect(statSync(path.join(dir, f)).mode & 0o777, f).toBe(0o600);
    }
    const again = await runCli(['force', 'keygen', '--dir', dir, '--broker-url', 'mqtts://force.example:8883']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists[\s\S]*what to do/);
    const b = await runCli(['force', 'broker-config', '--dir', dir, '--prefix', 'hs/test']);
    expect(b.code, b.stderr).toBe(0);
    const acl = readFileSync(path.join(dir, 'broker', 'acl'), 'utf8');
    for (const t of Object.values(TOPICS)) {
      const device = t.dir === 'up' ? `pattern write hs/test/%u/${t.suffix}` : `pattern read hs/test/%u/${t.suffix}`;
      const force = t.dir === 'up' ? `topic read hs/test/+/${t.suffix}` : `topic write hs/test/+/${t.suffix}`;
      expect(acl).toContain(device);
      expect(acl).toContain(force);
    }
    expect(readFileSync(path.join(dir, 'broker', 'passwd'), 'utf8')).toMatch(/^svc\.force:\$7\$101\$/m);
    const badDays = await runCli(['force', 'rotate', '--dir', dir, '--overlap-days', 'a week']);
    expect([badDays.code, badDays.stderr]).toEqual([2, expect.stringContaining('--overlap-days must be a whole number of days, not "a week"')]);
    const help = await runCli(['force', 'rotate', '--help']);
    expect(help.stdout).toMatch(/--overlap-days <n>.*\(default: 30\)/);
    const rot = await runCli(['force', 'rotate', '--dir', dir, '--overlap-days', '7']);
    expect(rot.code, rot.stderr).toBe(0);
    const ks = JSON.parse(readFileSync(path.join(dir, 'keyset.json'), 'utf8')) as { keyset: { seq: number; recipients: unknown[] } };
    expect(ks.keyset.seq).toBe(2);
    expect(ks.keyset.recipients).toHaveLength(2);
  });

  it('enroll refuses a bundle for another device, with what to do', async () => {
    const dir = tempDir();
    const force = path.join(dir, 'force');
    expect((await runCli(['force', 'keygen', '--dir', force, '--broker-url', 'mqtts://127.0.0.1:8883'])).code).toBe(0);
    const ca = path.join(dir, 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n');
    const e = await runCli(['force', 'enroll', '--dir', force, '--device', 'box-7', '--broker-url', 'mqtts://127.0.0.1:8883', '--ca', ca, '--out', path.join(dir, 'b.json')]);
    expect(e.code, e.stderr).toBe(0);
    expect(statSync(path.join(dir, 'b.json')).mode & 0o777).toBe(0o600);
    const cfg = path.join(dir, 'box.yaml');
    writeFileSync(cfg, `device: {id: box-8}\npaths: {state_dir: ${JSON.stringify(path.join(dir, 'state'))}}\n`);
    const r = await runCli(['enroll', path.join(dir, 'b.json'), '--config', cfg]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bundle is for device box-7[\s\S]*what to do: set device.id: box-7/);
    const bad = await runCli(['force', 'enroll', '--dir', force, '--device', '../x', '--broker-url', 'mqtts://h:1', '--ca', ca]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not a valid id/);
  });
});
