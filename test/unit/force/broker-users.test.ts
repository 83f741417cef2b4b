import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FORCE_SERVICE_USER, mosquittoPasswordLine, receiverUsers, upsertPasswdLine, writeBrokerKit, writeReceiverIdentities } from '../../../daemon/src/force/broker-kit.js';
import { openForceDb } from '../../../daemon/src/force/database.js';
import { enrollDevice } from '../../../daemon/src/force/enroll.js';
import { forceKeygen } from '../../../daemon/src/force/keys.js';
import { forcePaths } from '../../../daemon/src/force/paths.js';
import { systemClock } from '../../../daemon/src/util/clock.js';
import { tempDir } from '../../helpers/paths.js';

function setup(): { dir: string; enroll: (id: string) => void; passwd: () => string } {
  const dir = path.join(tempDir('hs-brokerusers-'), 'force');
  forceKeygen(dir, { now: systemClock.now(), validityDays: 30 });
  writeBrokerKit(dir, { prefix: 'hindsight/v1', forceUsers: [FORCE_SERVICE_USER] });
  const enroll = (id: string): void => {
    const fdb = openForceDb(dir);
    try {
      enrollDevice({ dir, deviceId: id, store: 'S', brokerUrl: 'mqtts://127.0.0.1:8883', caPem: '', prefix: 'hindsight/v1', now: systemClock.now(), db: fdb.db, audit: fdb.audit });
    } finally {
      fdb.close();
    }
  };
  return { dir, enroll, passwd: () => readFileSync(forcePaths(dir).brokerPasswd, 'utf8') };
}

const lineOf = (passwd: string, user: string): string | undefined => passwd.split('\n').find((l) => l.startsWith(`${user}:`));

describe('broker users: services have their own namespace; a box never overwrites another kind of user', () => {
  it("a box enrolled as `force` gets its own user; the force service's password line and ACL stay the service's", () => {
    const f = setup();
    const before = lineOf(f.passwd(), FORCE_SERVICE_USER);
    expect(before).toBeDefined();
    f.enroll('force');
    expect(lineOf(f.passwd(), FORCE_SERVICE_USER)).toBe(before);
    expect(lineOf(f.passwd(), 'force')).toBeDefined();
    const acl = readFileSync(path.join(forcePaths(f.dir).brokerDir, 'acl'), 'utf8');
    expect(acl).toMatch(/^user svc\.force$/m);
    expect(acl).not.toMatch(/^user force$/m);
  });

  it('a service name cannot be enrolled as a box', () => {
    const f = setup();
    const before = f.passwd();
    expect(() => f.enroll(FORCE_SERVICE_USER)).toThrow(/not a valid id/);
    expect(f.passwd()).toBe(before);
  });

  it('a broker user that is not a box enrolled here is not replaced by an enrollment (re-enrolling a box is)', () => {
    const f = setup();
    upsertPasswdLine(forcePaths(f.dir).brokerPasswd, mosquittoPasswordLine('legacy', 'its-own-password-123'), 'device', true);
    const before = f.passwd();
    expect(() => f.enroll('legacy')).toThrow(/broker user legacy already exists and is not a box enrolled here/);
    expect(f.passwd()).toBe(before);
    f.enroll('box-1');
    const first = lineOf(f.passwd(), 'box-1');
    f.enroll('box-1');
    expect(lineOf(f.passwd(), 'box-1')).not.toBe(first);
  });

  it('service users outside the svc. namespace are refused', () => {
    const f = setup();
    expect(() => upsertPasswdLine(forcePaths(f.dir).brokerPasswd, mosquittoPasswordLine('force', 'x-password-1234567'), 'service')).toThrow(/not in the service namespace/);
    expect(() => writeBrokerKit(f.dir, { prefix: 'hindsight/v1', forceUsers: ['observer'] })).toThrow(/not in the service namespace/);
  });
});

describe('broker identities of several receivers', () => {
  it('receivers 2..n each get their own user, password, passwd line and environment file; receiver 1 stays keygen\'s svc.force', () => {
    const f = setup();
    const svc = lineOf(f.passwd(), FORCE_SERVICE_USER);
    writeBrokerKit(f.dir, { prefix: 'hindsight/v1', forceUsers: receiverUsers(3) });
    const ids = writeReceiverIdentities(f.dir, 3);
    expect(ids.map((r) => [r.username, r.created])).toEqual([
      ['svc.force-2', true],
      ['svc.force-3', true],
    ]);
    expect(lineOf(f.passwd(), FORCE_SERVICE_USER)).toBe(svc);
    for (const r of ids) {
      expect(lineOf(f.passwd(), r.username)).toMatch(/^svc\.force-\d:\$7\$/);
      const env = readFileSync(r.envFile, 'utf8');
      expect(env).toContain(`HSFORCE_MQTT__USERNAME=${r.username}\n`);
      expect(env).toContain(`HSFORCE_MQTT__PASSWORD_FILE=${r.passwordFile}\n`);
    }
    const acl = readFileSync(path.join(forcePaths(f.dir).brokerDir, 'acl'), 'utf8');
    for (const u of ['svc.force', 'svc.force-2', 'svc.force-3']) expect(acl).toContain(`\nuser ${u}\n`);
    const password = readFileSync(ids[0]!.passwordFile, 'utf8');
    expect(writeReceiverIdentities(f.dir, 3).map((r) => r.created)).toEqual([false, false]);
    expect(readFileSync(ids[0]!.passwordFile, 'utf8')).toBe(password);
    expect(writeReceiverIdentities(f.dir, 1)).toEqual([]);
  });

  it('a count of receivers that is not a whole number from 1 to 64 is refused, saying what to give', () => {
    const f = setup();
    for (const bad of [0, -1, 1.5, 65]) expect(() => writeReceiverIdentities(f.dir, bad)).toThrow(expect.objectContaining({ code: 'bad_receivers', hint: 'give a whole number of receivers from 1 to 64' }));
  });
});
