import { fromB64u } from '../crypto/encoding.js';
import { keyId } from '../crypto/keys.js';
import type { Db } from '../db/db.js';
import { HindsightError } from '../util/errors.js';
import { assertSafeId } from '../util/ids.js';
import { DeviceKeysRepo } from './db/device-keys.js';
import { DevicesRepo, type Device } from './db/devices.js';

export type { Device } from './db/devices.js';

/** The boxes this force knows, with the signing key each registered after enrollment. */
export class DeviceRegistry {
  private readonly devices: DevicesRepo;
  private readonly keys: DeviceKeysRepo;

  constructor(private readonly db: Db) {
    this.devices = new DevicesRepo(db);
    this.keys = new DeviceKeysRepo(db);
  }

  enroll(id: string, store: string, now: number): void {
    assertSafeId(id, 'device id');
    this.devices.upsert(id, store, now);
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
      this.keys.retireCurrent(id, now);
      this.keys.addCurrent(id, kid, pk, now);
      this.devices.setSigningKey(id, pk, kid, now);
    })();
    return { kid, replaced: device.signingKid };
  }

  /** The public key `kid` of a device, current or replaced (to verify evidence it signed). */
  keyOf(id: string, kid: string): string | undefined {
    return this.keys.pk(id, kid);
  }

  /** A lost or stolen box: its evidence is refused from now on (what was stored stays). */
  revoke(id: string): boolean {
    return this.devices.revoke(id);
  }

  get(id: string): Device | undefined {
    return this.devices.get(id);
  }

  list(): Device[] {
    return this.devices.list();
  }
}
