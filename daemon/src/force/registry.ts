import { fromB64u } from '../crypto/encoding.js';
import { keyId } from '../crypto/keys.js';
import type { Db } from '../store/db.js';
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

  /** Pin the device's Ed25519 signing key (printed by `hindsight enroll` on the box). */
  register(id: string, pk: string, now: number): string {
    const device = this.get(id);
    if (!device) throw new HindsightError(`device ${id} is not enrolled`, { code: 'unknown_device', hint: `run: hindsight force enroll --device ${id}` });
    const kid = keyId(fromB64u(pk, 'device public key', 32));
    this.db.prepare('UPDATE devices SET signing_pk = ?, signing_kid = ?, registered_utc = ? WHERE id = ?').run(pk, kid, now, id);
    return kid;
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
