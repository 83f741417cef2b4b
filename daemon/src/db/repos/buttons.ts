import type { Db } from '../db.js';
import { statement } from '../statements.js';

export interface Button {
  id: string;
  name: string;
  zone: string;
  createdUtcMs: number;
  disabled: boolean;
}

export interface ButtonPress {
  id: string;
  buttonId: string;
  pressedUtcMs: number;
  windowFromMs: number;
  windowToMs: number;
  cameraIds: string[];
  state: 'pending' | 'completed' | 'expired';
  expiresUtcMs: number;
  incidentId: string | null;
}

interface ButtonRow {
  id: string;
  name: string;
  zone: string;
  created_utc_ms: number;
  disabled_utc_ms: number | null;
}
interface PressRow {
  id: string;
  button_id: string;
  pressed_utc_ms: number;
  window_from_ms: number;
  window_to_ms: number;
  cameras: string;
  state: ButtonPress['state'];
  expires_utc_ms: number;
  incident_id: string | null;
}

const button = (r: ButtonRow): Button => ({ id: r.id, name: r.name, zone: r.zone, createdUtcMs: r.created_utc_ms, disabled: r.disabled_utc_ms !== null });
const press = (r: PressRow): ButtonPress => ({
  id: r.id,
  buttonId: r.button_id,
  pressedUtcMs: r.pressed_utc_ms,
  windowFromMs: r.window_from_ms,
  windowToMs: r.window_to_ms,
  cameraIds: JSON.parse(r.cameras) as string[],
  state: r.state,
  expiresUtcMs: r.expires_utc_ms,
  incidentId: r.incident_id,
});

/** Incident buttons and their presses (migration 009). Storage only; the rules are in incidents/presses.ts. */
export class ButtonsRepo {
  constructor(private readonly db: Db) {}

  insertButton(b: { id: string; name: string; zone: string; tokenHash: string; createdUtcMs: number; createdBy: string }): void {
    statement(this.db, 'INSERT INTO buttons (id, name, zone, token_hash, created_utc_ms, created_by) VALUES (?, ?, ?, ?, ?, ?)').run(b.id, b.name, b.zone, b.tokenHash, b.createdUtcMs, b.createdBy);
  }

  byTokenHash(tokenHash: string): Button | undefined {
    const r = statement(this.db, 'SELECT id, name, zone, created_utc_ms, disabled_utc_ms FROM buttons WHERE token_hash = ?').get(tokenHash) as ButtonRow | undefined;
    return r && button(r);
  }

  buttons(): Button[] {
    return (statement(this.db, 'SELECT id, name, zone, created_utc_ms, disabled_utc_ms FROM buttons ORDER BY name').all() as ButtonRow[]).map(button);
  }

  button(id: string): Button | undefined {
    const r = statement(this.db, 'SELECT id, name, zone, created_utc_ms, disabled_utc_ms FROM buttons WHERE id = ?').get(id) as ButtonRow | undefined;
    return r && button(r);
  }

  insertPress(p: Omit<ButtonPress, 'state' | 'incidentId'>): void {
    statement(this.db, "INSERT INTO button_presses (id, button_id, pressed_utc_ms, window_from_ms, window_to_ms, cameras, state, expires_utc_ms) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)").run(
      p.id,
      p.buttonId,
      p.pressedUtcMs,
      p.windowFromMs,
      p.windowToMs,
      JSON.stringify(p.cameraIds),
      p.expiresUtcMs,
    );
  }

  press(id: string): ButtonPress | undefined {
    const r = statement(this.db, 'SELECT * FROM button_presses WHERE id = ?').get(id) as PressRow | undefined;
    return r && press(r);
  }

  pending(): ButtonPress[] {
    return (statement(this.db, "SELECT * FROM button_presses WHERE state = 'pending' ORDER BY pressed_utc_ms DESC").all() as PressRow[]).map(press);
  }

  pendingExpiredBy(nowMs: number): ButtonPress[] {
    return (statement(this.db, "SELECT * FROM button_presses WHERE state = 'pending' AND expires_utc_ms <= ?").all(nowMs) as PressRow[]).map(press);
  }

  countPressesSince(buttonId: string, sinceMs: number): number {
    return statement(this.db, 'SELECT count(*) FROM button_presses WHERE button_id = ? AND pressed_utc_ms >= ?').pluck().get(buttonId, sinceMs) as number;
  }

  end(id: string, state: 'completed' | 'expired', nowMs: number, incidentId: string | null): boolean {
    return statement(this.db, "UPDATE button_presses SET state = ?, ended_utc_ms = ?, incident_id = ? WHERE id = ? AND state = 'pending'").run(state, nowMs, incidentId, id).changes === 1;
  }
}
