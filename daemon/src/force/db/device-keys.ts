import type { Db } from '../../db/db.js';
import { statement } from '../../db/statements.js';

/** The `device_keys` table: every signing key a box has had, the current one with no `replaced_utc`. */
export class DeviceKeysRepo {
  constructor(private readonly db: Db) {}

  /** The public key `kid` of a device, current or replaced. */
  pk(deviceId: string, kid: string): string | undefined {
    return (statement(this.db, 'SELECT pk FROM device_keys WHERE device_id = ? AND kid = ?').get(deviceId, kid) as { pk: string } | undefined)?.pk;
  }

  /** The device's current key is replaced as of `now` (it stays, to verify what it signed). */
  retireCurrent(deviceId: string, now: number): void {
    statement(this.db, 'UPDATE device_keys SET replaced_utc = ? WHERE device_id = ? AND replaced_utc IS NULL').run(now, deviceId);
  }

  /** Record a key as the device's current one (a key it had before becomes current again). */
  addCurrent(deviceId: string, kid: string, pk: string, now: number): void {
    statement(this.db, 'INSERT INTO device_keys (device_id, kid, pk, registered_utc) VALUES (?, ?, ?, ?) ON CONFLICT(device_id, kid) DO UPDATE SET replaced_utc = NULL, registered_utc = excluded.registered_utc').run(
      deviceId,
      kid,
      pk,
      now,
    );
  }
}
