import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FORCE_SERVICE_USER, mosquittoPasswordLine, upsertPasswdLine, writeBrokerKit } from '../../../daemon/src/force/broker-kit.js';
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
