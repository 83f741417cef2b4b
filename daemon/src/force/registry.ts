import { fromB64u } from '../crypto/encoding.js';
import { keyId } from '../crypto/keys.js';
import type { Db } from '../db/db.js';
import { HindsightError } from '../util/errors.js';
import { assertSafeId } from '../util/ids.js';

export interface Device {
  id: string;
  store: string;
  signingPk: string | null;
  signingKid: string | null;
  enrolledUtc: number;
  revoked: boolean;
}

/** The boxes this force knows, with the signing key each registered after enrollment. */
export class DeviceRegistry {
  constructor(private readonly db: Db) {}

  enroll(id: string, store: string, now: number): void {
    assertSafeId(id, 'device id');
    this.db.prepare('INSERT INTO devices (id, store, enrolled_utc) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET store = excluded.store').run(id, store, now);
  }

  /**
   * Pin the device's Ed25519 signing key (printed by `hindsight enroll` on the box). A box that already has
   * another key keeps it unless `replace` is given; a replaced key stays in the key history, so the
   * evidence it signed still verifies. Registering the same key again changes nothing.
   */
  register(id: string, pk: string, now: number, options: { replace?: boolean } = {}): { kid: string; replaced: string | null } {
    const device = this.get(id);
    if (!device) throw new HindsightError(`device ${id} is not enrolled`, { code: 'unknown_device', hint: `run: hindsight force enroll --device ${id}` });
    const kid = keyId(fromB64u(pk, 'device public key', 32));
    if (device.signingKid === kid) return { kid, replaced: null };
    if (device.signingKid && !options.replace) {
      throw new HindsightError(`device ${id} already has signing key ${device.signingKid}; refusing to replace it with ${kid}`, {
        code: 'key_registered',
        hint: 'if the box was re-enrolled or its key replaced, run the same command with --replace (the old key is kept to verify the evidence it signed)',
      });
    }
    this.db.transaction(() => {
      this.db.prepare('UPDATE device_keys SET replaced_utc = ? WHERE device_id = ? AND replaced_utc IS NULL').run(now, id);
      this.db
        .prepare('INSERT INTO device_keys (device_id, kid, pk, registered_utc) VALUES (?, ?, ?, ?) ON CONFLICT(device_id, kid) DO UPDATE SET replaced_utc = NULL, registered_utc = excluded.registered_utc')
        .run(id, kid, pk, now);
      this.db.prepare('UPDATE devices SET signing_pk = ?, signing_kid = ?, registered_utc = ? WHERE id = ?').run(pk, kid, now, id);
    })();
    return { kid, replaced: device.signingKid };
  }

  /** The public key `kid` of a device, current or replaced (to verify evidence it signed). */
  keyOf(id: string, kid: string): string | undefined {
    return (this.db.prepare('SELECT pk FROM device_keys WHERE device_id = ? AND kid = ?').get(id, kid) as { pk: string } | undefined)?.pk;
  }

  /** A lost or stolen box: its evidence is refused from now on (what was stored stays). */
  revoke(id: string): boolean {
    return this.db.prepare('UPDATE devices SET revoked = 1 WHERE id = ?').run(id).changes === 1;
  }

  get(id: string): Device | undefined {
    const r = this.db.prepare('SELECT * FROM devices WHERE id = ?').get(id) as
      | { id: string; store: string; signing_pk: string | null; signing_kid: string | null; enrolled_utc: number; revoked: number }
      | undefined;
    return r && { id: r.id, store: r.store, signingPk: r.signing_pk, signingKid: r.signing_kid, enrolledUtc: r.enrolled_utc, revoked: r.revoked === 1 };
  }
}
