import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { AuditActor, AuditLog } from '../audit/log.js';
import { writeSecretFile } from '../crypto/keys.js';
import type { EnrollmentBundle } from '../protocol/enrollment.js';
import { assertPrefix } from '../protocol/topics.js';
import type { Db } from '../db/db.js';
import { assertSafeId } from '../util/ids.js';
import { mosquittoPasswordLine, upsertPasswdLine } from './broker-kit.js';
import { loadKeySet, loadRootKey } from './keys.js';
import { forcePaths } from './paths.js';
import { DeviceRegistry } from './registry.js';

export interface EnrollOptions {
  dir: string;
  deviceId: string;
  store: string;
  brokerUrl: string;
  caPem: string;
  prefix: string;
  now: number;
  db: Db;
  audit: AuditLog;
  /** Who enrolls (the operator); recorded in the audit row. */
  actor?: AuditActor;
  out?: string;
}

/**
 * Enroll a box: a fresh MQTT password (its hash goes into the broker password file; the plaintext only
 * into the bundle), the current root-signed key set and the pinned root key. Writes the bundle 0600.
 */
export function enrollDevice(o: EnrollOptions): { bundle: EnrollmentBundle; file: string } {
  assertSafeId(o.deviceId, 'device id');
  assertPrefix(o.prefix);
  const p = forcePaths(o.dir);
  const root = loadRootKey(o.dir);
  const keyset = loadKeySet(o.dir);
  const password = randomBytes(24).toString('base64url');
  const bundle: EnrollmentBundle = {
    v: 1,
    schema: 'hindsight-enrollment/1',
    device_id: o.deviceId,
    store: o.store,
    issued_at: o.now,
    mqtt: { url: o.brokerUrl, ca_pem: o.caPem, username: o.deviceId, password, prefix: o.prefix },
    force_root: { kid: root.kid, pk: root.pk },
    keyset: keyset as unknown as EnrollmentBundle['keyset'],
  };
  const file = o.out ?? path.join(p.bundlesDir, `${o.deviceId}.bundle.json`);
  const registry = new DeviceRegistry(o.db);
  // Checked before anything is recorded: a name held by another kind of broker user is refused.
  const line = mosquittoPasswordLine(o.deviceId, password);
  const known = registry.get(o.deviceId) !== undefined;
  upsertPasswdLine(p.brokerPasswd, line, 'device', known);
  o.db.transaction(() => {
    registry.enroll(o.deviceId, o.store, o.now);
    o.audit.append({ actor: o.actor ?? { type: 'cli', id: 'force' }, action: 'device.enrolled', objectIds: [o.deviceId], detail: { store: o.store, broker: o.brokerUrl, keyset_seq: keyset.keyset.seq } });
  })();
  writeSecretFile(file, JSON.stringify(bundle, null, 2) + '\n');
  return { bundle, file };
}
