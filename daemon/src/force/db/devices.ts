import type { Db } from '../../db/db.js';
import { statement } from '../../db/statements.js';

/** A box this force enrolled, with the signing key it registered (if any yet). */
export interface Device {
  id: string;
  store: string;
  signingPk: string | null;
  signingKid: string | null;
  enrolledUtc: number;
  revoked: boolean;
}

interface Row {
  id: string;
  store: string;
  signing_pk: string | null;
  signing_kid: string | null;
  enrolled_utc: number;
  revoked: number;
}

const fromRow = (r: Row): Device => ({ id: r.id, store: r.store, signingPk: r.signing_pk, signingKid: r.signing_kid, enrolledUtc: r.enrolled_utc, revoked: r.revoked === 1 });

/** The `devices` table: one row per enrolled box. */
export class DevicesRepo {
  constructor(private readonly db: Db) {}

  get(id: string): Device | undefined {
    const r = statement(this.db, 'SELECT id, store, signing_pk, signing_kid, enrolled_utc, revoked FROM devices WHERE id = ?').get(id) as Row | undefined;
    return r && fromRow(r);
  }

  /** Every enrolled box, revoked ones too, by id. */
  list(): Device[] {
    return (statement(this.db, 'SELECT id, store, signing_pk, signing_kid, enrolled_utc, revoked FROM devices ORDER BY id').all() as Row[]).map(fromRow);
  }

  /** Enroll a box, or enroll it again (only its store name changes). */
  upsert(id: string, store: string, enrolledUtc: number): void {
    statement(this.db, 'INSERT INTO devices (id, store, enrolled_utc) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET store = excluded.store').run(id, store, enrolledUtc);
  }

  /** The box's current signing key. */
  setSigningKey(id: string, pk: string, kid: string, registeredUtc: number): void {
    statement(this.db, 'UPDATE devices SET signing_pk = ?, signing_kid = ?, registered_utc = ? WHERE id = ?').run(pk, kid, registeredUtc, id);
  }

  /** Mark a box revoked; false when there is no such box. */
  revoke(id: string): boolean {
    return statement(this.db, 'UPDATE devices SET revoked = 1 WHERE id = ?').run(id).changes === 1;
  }
}
