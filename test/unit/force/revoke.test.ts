import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { FORCE_SERVICE_USER, removePasswdLine, writeBrokerKit } from '../../../daemon/src/force/broker-kit.js';
import { openForceDb } from '../../../daemon/src/force/database.js';
import { enrollDevice } from '../../../daemon/src/force/enroll.js';
import { forceKeygen } from '../../../daemon/src/force/keys.js';
import { forcePaths } from '../../../daemon/src/force/paths.js';
import { DeviceRegistry } from '../../../daemon/src/force/registry.js';
import { reloadBroker, revokeDevice } from '../../../daemon/src/force/revoke.js';
import { HindsightError } from '../../../daemon/src/util/errors.js';
import { systemClock } from '../../../daemon/src/util/clock.js';
import { tempDir } from '../../helpers/paths.js';

const ACTOR = { type: 'cli' as const, id: 'tester' };

/** A force installation with the broker kit and two enrolled boxes; force.yaml names `pidFile` as the broker's. */
function setup(pidFile: string, o: { kit?: boolean } = {}): { dir: string; passwd: string } {
  const dir = path.join(tempDir('hs-revoke-'), 'force');
  forceKeygen(dir, { now: systemClock.now(), validityDays: 30 });
  const p = forcePaths(dir);
  writeFileSync(p.config, stringify({ force: { dir: '.' }, broker: { pid_file: pidFile } }));
  if (o.kit !== false) writeBrokerKit(dir, { prefix: 'hindsight/v1', forceUsers: [FORCE_SERVICE_USER] });
  const fdb = openForceDb(dir);
  try {
    for (const id of ['box-1', 'box-2']) {
      if (o.kit === false) new DeviceRegistry(fdb.db).enroll(id, 'S', systemClock.now());
      else enrollDevice({ dir, deviceId: id, store: 'S', brokerUrl: 'mqtts://127.0.0.1:8883', caPem: '', prefix: 'hindsight/v1', now: systemClock.now(), db: fdb.db, audit: fdb.audit });
    }
  } finally {
    fdb.close();
  }
  return { dir, passwd: p.brokerPasswd };
}

const users = (file: string): string[] => readFileSync(file, 'utf8').split('\n').filter((l) => l).map((l) => l.slice(0, l.indexOf(':')));

function caught(fn: () => unknown): HindsightError {
  try {
    fn();
  } catch (err) {
    return err as HindsightError;
  }
  throw new Error('expected an error');
}

describe('removePasswdLine: a revoked box leaves the broker password file', () => {
  it("removes only that box's line (0600 kept), says false when there is none, and never takes a service user", () => {
    const { passwd } = setup('/nonexistent/mosquitto.pid');
    expect(users(passwd).sort()).toEqual(['box-1', 'box-2', 'svc.force']);
    expect(removePasswdLine(passwd, 'box-1')).toBe(true);
    expect(users(passwd).sort()).toEqual(['box-2', 'svc.force']);
    expect(statSync(passwd).mode & 0o777).toBe(0o600);
    expect(removePasswdLine(passwd, 'box-1')).toBe(false);
    // a prefix of another user's name is not that user
    expect(removePasswdLine(passwd, 'box')).toBe(false);
    expect(() => removePasswdLine(passwd, FORCE_SERVICE_USER)).toThrow(/not a valid id/);
    expect(users(passwd).sort()).toEqual(['box-2', 'svc.force']);
    expect(removePasswdLine(path.join(path.dirname(passwd), 'missing'), 'box-2')).toBe(false);
  });
});

describe('reloadBroker: SIGHUP only to the mosquitto the pid file names', () => {
  it('a missing or garbled pid file is refused, saying which setting to fix', () => {
    const dir = tempDir('hs-reload-');
    const missing = caught(() => reloadBroker(path.join(dir, 'none.pid')));
    expect([missing.code, missing.message]).toEqual(['broker_pid_file', expect.stringMatching(/none\.pid: no such file \(is Mosquitto running\?\)/)]);
    expect(missing.hint).toMatch(/broker\.pid_file in force\.yaml/);
    writeFileSync(path.join(dir, 'bad.pid'), 'mosquitto\n');
    expect(caught(() => reloadBroker(path.join(dir, 'bad.pid'))).message).toMatch(/does not hold a process id/);
  });

  it('a stale pid file naming some other process: that process is not signalled', async () => {
    const dir = tempDir('hs-reload-');
    // `sleep` dies of SIGHUP: still running afterwards means it was never sent one
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      writeFileSync(path.join(dir, 'm.pid'), `${other.pid}\n`);
      const e = caught(() => reloadBroker(path.join(dir, 'm.pid')));
      expect(e.message).toMatch(/is "sleep", not mosquitto: not signalled/);
      await new Promise((r) => setTimeout(r, 200));
      expect(other.exitCode).toBeNull();
      expect(other.signalCode).toBeNull();
    } finally {
      other.kill('SIGKILL');
    }
    // and once it is gone: the broker is not running
    await once(other, 'exit');
    expect(caught(() => reloadBroker(path.join(dir, 'm.pid'))).code).toBe('broker_not_running');
  });
});

describe('revokeDevice: the revocation stands whatever happens at the broker', () => {
  it('no broker to reload: the box is revoked and audited all the same, its line is gone, and the failure says what to do', () => {
    const { dir, passwd } = setup('/nonexistent/mosquitto.pid');
    const fdb = openForceDb(dir);
    try {
      const r = revokeDevice({ db: fdb.db, audit: fdb.audit, actor: ACTOR, dir, deviceId: 'box-1', reason: 'stolen', env: {} });
      expect(new DeviceRegistry(fdb.db).get('box-1')?.revoked).toBe(true);
      expect(new DeviceRegistry(fdb.db).get('box-2')?.revoked).toBe(false);
      expect(users(passwd).sort()).toEqual(['box-2', 'svc.force']);
      expect(r.failure?.code).toBe('broker_not_reloaded');
      expect(r.failure?.message).toMatch(/^box-1 is revoked in the force database, but the broker still lets it in: cannot reload the broker: cannot read the broker's pid file \/nonexistent\/mosquitto\.pid/);
      expect(r.failure?.hint).toMatch(/reload it by hand now \(sudo systemctl reload mosquitto/);
      const row = fdb.audit.find({ action: 'device.revoked' }).at(-1)!;
      expect(row.object_ids).toEqual(['box-1']);
      expect(row.justification).toBe('stolen');
      expect(row.detail).toEqual({ broker: { passwd_removed: true, reloaded: false, pid: null, error: expect.stringMatching(/^cannot reload the broker: /) } });

      // run again to finish it (here: still no broker): the line is already gone, but the reload is tried again
      const again = revokeDevice({ db: fdb.db, audit: fdb.audit, actor: ACTOR, dir, deviceId: 'box-1', reason: 'stolen', env: {} });
      expect(again.alreadyRevoked).toBe(true);
      expect(again.failure?.code).toBe('broker_not_reloaded');
      expect(fdb.audit.find({ action: 'device.revoked' }).at(-1)!.detail).toMatchObject({ already_revoked: true, broker: { passwd_removed: false, reloaded: false } });
    } finally {
      fdb.close();
    }
  });

  it('a box that never had a broker user (registered by other means) signals no broker at all', () => {
    const { dir } = setup('/nonexistent/mosquitto.pid', { kit: false });
    const fdb = openForceDb(dir);
    try {
      const r = revokeDevice({ db: fdb.db, audit: fdb.audit, actor: ACTOR, dir, deviceId: 'box-1', reason: 'stolen', env: {} });
      expect(r.failure).toBeUndefined();
      expect(r.broker).toEqual({ passwd_removed: false, reloaded: false, pid: null, skipped: expect.stringMatching(/^no broker user for it in .*broker\/passwd$/) });
      expect(new DeviceRegistry(fdb.db).get('box-1')?.revoked).toBe(true);
    } finally {
      fdb.close();
    }
  });

  it('an unknown box is refused before anything is touched', () => {
    const { dir, passwd } = setup('/nonexistent/mosquitto.pid');
    const before = readFileSync(passwd, 'utf8');
    const fdb = openForceDb(dir);
    try {
      expect(() => revokeDevice({ db: fdb.db, audit: fdb.audit, actor: ACTOR, dir, deviceId: 'box-9', reason: 'stolen', env: {} })).toThrow(/device box-9 is not enrolled here/);
      expect(fdb.audit.find({ action: 'device.revoked' })).toEqual([]);
    } finally {
      fdb.close();
    }
    expect(readFileSync(passwd, 'utf8')).toBe(before);
  });
});
