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

/** A box's presence, as both views of the row have it. */
const presenceOf = (r: Row): Omit<FleetBox, 'health'> => ({ deviceId: r.device_id, state: r.state, sinceUtc: r.since_utc, bootId: r.boot_id, bdSeq: r.bd_seq, version: r.version, healthUtc: r.health_utc });

const fromRow = (r: Row): FleetBox => ({ ...presenceOf(r), health: r.health ? (JSON.parse(r.health) as Record<string, unknown>) : null });

/**
 * A box's line in the fleet view: its presence, its latest health document as stored (JSON text, not
 * parsed here) and the few figures an admin scans for, taken out of the document when it arrived (a
 * thousand boxes' documents are megabytes: parsing them all would be most of `fleet list`).
 */
export interface FleetSummary extends Omit<FleetBox, 'health'> {
  healthJson: string | null;
  camerasTotal: number | null;
  camerasRecording: number | null;
  /** The `alarms` array of the health document, as JSON text (null without one). */
  alarmsJson: string | null;
  freeDiskBytes: number | null;
}

interface SummaryRow extends Row {
  cameras_total: number | null;
  cameras_recording: number | null;
  alarms: string | null;
  free_disk_bytes: number | null;
}

const fromSummaryRow = (r: SummaryRow): FleetSummary => ({
  ...presenceOf(r),
  healthJson: r.health,
  camerasTotal: r.cameras_total,
  camerasRecording: r.cameras_recording,
  alarmsJson: r.alarms,
  freeDiskBytes: r.free_disk_bytes,
});

/** The figures the fleet view shows, out of a health document (f014 computes the same in SQL for older rows). */
function figures(health: Record<string, unknown>): { camerasTotal: number | null; camerasRecording: number | null; alarmsJson: string | null; freeDiskBytes: number | null } {
  const cameras = Array.isArray(health.cameras) ? (health.cameras as { state?: unknown }[]) : null;
  const free = (health.disk as { free_bytes?: unknown } | undefined)?.free_bytes;
  return {
    camerasTotal: cameras ? cameras.length : null,
    camerasRecording: cameras ? cameras.filter((c) => c?.state === 'recording').length : null,
    alarmsJson: Array.isArray(health.alarms) ? JSON.stringify(health.alarms) : null,
    freeDiskBytes: typeof free === 'number' && Number.isFinite(free) ? Math.trunc(free) : null,
  };
}

/** The force's `fleet` table: presence and latest health of each box. */
export class FleetRepo {
  constructor(private readonly db: Db) {}

  get(deviceId: string): FleetBox | undefined {
    const r = statement(this.db, 'SELECT * FROM fleet WHERE device_id = ?').get(deviceId) as Row | undefined;
    return r && fromRow(r);
  }

  /** Every box's line (or the one box `only` names), by device id. */
  summaries(only?: string): FleetSummary[] {
    const rows = only === undefined ? statement(this.db, 'SELECT * FROM fleet ORDER BY device_id').all() : statement(this.db, 'SELECT * FROM fleet WHERE device_id = ?').all(only);
    return (rows as SummaryRow[]).map(fromSummaryRow);
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
    const f = figures(health);
    statement(
      this.db,
      `INSERT INTO fleet (device_id, state, since_utc, boot_id, bd_seq, version, health, health_utc, cameras_total, cameras_recording, alarms, free_disk_bytes)
       VALUES (?, 'online', ?, '', 0, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (device_id) DO UPDATE SET health = excluded.health, health_utc = excluded.health_utc, cameras_total = excluded.cameras_total,
         cameras_recording = excluded.cameras_recording, alarms = excluded.alarms, free_disk_bytes = excluded.free_disk_bytes`,
    ).run(deviceId, nowUtc, String(health.version ?? ''), JSON.stringify(health), nowUtc, f.camerasTotal, f.camerasRecording, f.alarmsJson, f.freeDiskBytes);
  }
}
