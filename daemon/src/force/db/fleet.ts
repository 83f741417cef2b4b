import type { Db } from '../../db/db.js';
import { statement } from '../../db/statements.js';

/** A box as the fleet view shows it. */
export interface FleetBox {
  deviceId: string;
  state: 'online' | 'offline';
  /** When it went into that state (as the force saw it). */
  sinceUtc: number;
  bootId: string;
  bdSeq: number;
  version: string;
  /** Its latest health document (PROTOCOL.md), and when the force received it. */
  health: Record<string, unknown> | null;
  healthUtc: number | null;
}

interface Row {
  device_id: string;
  state: 'online' | 'offline';
  since_utc: number;
  boot_id: string;
  bd_seq: number;
  version: string;
  health: string | null;
  health_utc: number | null;
}

const fromRow = (r: Row): FleetBox => ({
  deviceId: r.device_id,
  state: r.state,
  sinceUtc: r.since_utc,
  bootId: r.boot_id,
  bdSeq: r.bd_seq,
  version: r.version,
  health: r.health ? (JSON.parse(r.health) as Record<string, unknown>) : null,
  healthUtc: r.health_utc,
});

/** The force's `fleet` table: presence and latest health of each box. */
export class FleetRepo {
  constructor(private readonly db: Db) {}

  get(deviceId: string): FleetBox | undefined {
    const r = statement(this.db, 'SELECT * FROM fleet WHERE device_id = ?').get(deviceId) as Row | undefined;
    return r && fromRow(r);
  }

  list(): FleetBox[] {
    return (statement(this.db, 'SELECT * FROM fleet ORDER BY device_id').all() as Row[]).map(fromRow);
  }

  /** A state message; `since` moves only when the state (or the box's life: boot id, sequence) changes. */
  setState(deviceId: string, s: { state: 'online' | 'offline'; bootId: string; bdSeq: number; version: string }, nowUtc: number): { changed: boolean } {
    const old = this.get(deviceId);
    const changed = !old || old.state !== s.state || old.bootId !== s.bootId || old.bdSeq !== s.bdSeq;
    statement(
      this.db,
      `INSERT INTO fleet (device_id, state, since_utc, boot_id, bd_seq, version) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (device_id) DO UPDATE SET state = excluded.state, since_utc = CASE WHEN ? THEN excluded.since_utc ELSE fleet.since_utc END,
         boot_id = excluded.boot_id, bd_seq = excluded.bd_seq, version = excluded.version`,
    ).run(deviceId, s.state, nowUtc, s.bootId, s.bdSeq, s.version, changed ? 1 : 0);
    return { changed };
  }

  /** A health document (a box sending one is online, should its state message come second). */
  setHealth(deviceId: string, health: Record<string, unknown>, nowUtc: number): void {
    statement(
      this.db,
      `INSERT INTO fleet (device_id, state, since_utc, boot_id, bd_seq, version, health, health_utc) VALUES (?, 'online', ?, '', 0, ?, ?, ?)
       ON CONFLICT (device_id) DO UPDATE SET health = excluded.health, health_utc = excluded.health_utc`,
    ).run(deviceId, nowUtc, String(health.version ?? ''), JSON.stringify(health), nowUtc);
  }
}
