import { rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../../daemon/src/audit/log.js';
import { openForceDb } from '../../../daemon/src/force/database.js';
import { enrollDevice } from '../../../daemon/src/force/enroll.js';
import { forceKeygen } from '../../../daemon/src/force/keys.js';
import { openDatabase } from '../../../daemon/src/db/db.js';
import { installBundle, KeySetStore, readBundle, uplinkFiles } from '../../../daemon/src/uplink/enrollment.js';
import { systemClock } from '../../../daemon/src/util/clock.js';
import { tempDir } from '../../helpers/paths.js';

/** A force installation in `dir` and a bundle for box-1 from it. */
function forceBundle(dir: string): string {
  forceKeygen(dir, { now: systemClock.now(), validityDays: 30 });
  const fdb = openForceDb(dir);
  try {
    return enrollDevice({ dir, deviceId: 'box-1', store: 'S', brokerUrl: 'mqtts://127.0.0.1:8883', caPem: '', prefix: 'hindsight/v1', now: systemClock.now(), db: fdb.db, audit: fdb.audit }).file;
  } finally {
    fdb.close();
  }
}

describe('the force root key is pinned in the box database at first enrollment', () => {
  it('a bundle from another root is refused (even with the enrollment file gone) unless the box is reset on purpose', () => {
    const dir = tempDir('hs-rootpin-');
    const first = readBundle(forceBundle(path.join(dir, 'force-a')));
    const other = readBundle(forceBundle(path.join(dir, 'force-b')));
    const stateDir = path.join(dir, 'state');
    const db = openDatabase(path.join(dir, 'box.db'));
    const audit = new AuditLog(db, systemClock);
    const o = { stateDir, deviceId: 'box-1', db, audit, clock: systemClock };
    installBundle(first, o);
    expect(new KeySetStore(db).pinnedRootKid()).toBe(first.force_root.kid);
    expect(() => installBundle(other, o)).toThrow(/pinned force root key .* at its first enrollment/);
    rmSync(uplinkFiles(stateDir).enrollment);
    expect(() => installBundle(other, o)).toThrow(/pinned force root key/);
    expect(new KeySetStore(db).current()?.keyset.root_kid).toBe(first.force_root.kid);
    installBundle(other, { ...o, resetForceRoot: true });
    expect(new KeySetStore(db).pinnedRootKid()).toBe(other.force_root.kid);
    const row = db.prepare("SELECT detail FROM audit WHERE action = 'uplink.force_root_reset'").get() as { detail: string } | undefined;
    expect(JSON.parse(row!.detail)).toMatchObject({ previous_root_kid: first.force_root.kid, root_kid: other.force_root.kid });
    db.close();
  });
});
