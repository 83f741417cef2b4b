import { existsSync } from 'node:fs';
import { readKeyFile } from '../crypto/keys.js';
import { validRecipients } from '../crypto/keyset.js';
import type { DaemonPaths } from '../config/paths.js';
import { openDatabase } from '../db/db.js';
import type { CheckResult } from '../doctor/check.js';
import { programCheck } from '../kernel/doctor.js';
import { errorMessage } from '../util/errors.js';
import { isEnrolled, KeySetStore, loadEnrollment, uplinkFiles } from './enrollment.js';

/** `hindsight doctor`: enrolled, device key readable only by its owner, force keys valid now. */
export function uplinkCheck({ paths, now }: { paths: Pick<DaemonPaths, 'stateDir' | 'database'>; now: number }): CheckResult {
  const { stateDir, database } = paths;
  const check = 'uplink';
  if (!isEnrolled(stateDir)) return { check, state: 'warn', required: false, detail: 'not enrolled with a force: evidence cannot be sealed', fix: 'hindsight enroll BUNDLE (from `hindsight force enroll`)' };
  try {
    const key = readKeyFile(uplinkFiles(stateDir).deviceKey, 'ed25519');
    const bundle = loadEnrollment(stateDir);
    if (!existsSync(database)) return { check, state: 'warn', required: false, detail: 'enrolled, but the database with the force key set is missing', fix: 'enroll again' };
    const db = openDatabase(database, { readonly: true });
    try {
      const ks = new KeySetStore(db).current();
      const valid = ks ? validRecipients(ks.keyset, now).length : 0;
      if (!ks || valid === 0) return { check, state: 'missing', required: false, detail: `no force key valid now (key set seq ${ks?.keyset.seq ?? '-'})`, fix: 'install a newer key set: hindsight uplink install-keyset FILE' };
      return { check, state: 'ok', required: false, detail: `device ${bundle.device_id} key ${key.kid}, broker ${bundle.mqtt.url}, key set seq ${ks.keyset.seq} (${valid} recipient keys valid)` };
    } finally {
      db.close();
    }
  } catch (err) {
    return { check, state: 'missing', required: false, detail: errorMessage(err), fix: 'see the message; `chmod 600` for key permissions, or enroll again' };
  }
}

/** `hindsight doctor --dev`: the broker the demo and the tests run (a shop's box talks to the force's). */
export function brokerDevCheck(): Promise<CheckResult> {
  return programCheck('mosquitto', 'mosquitto', false, 'apt-get install mosquitto (only for the demo and tests)', ['-h']);
}
