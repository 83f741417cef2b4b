import type { Migration } from './migration.js';

/**
 * Hardware incident buttons and their presses. A press preserves the moment (its window is locked at once)
 * but is not an incident: nothing is cut, analysed or sent until a member of staff gives the reason and
 * the justification, which turns it into one. An uncompleted press expires and its lock is released.
 * A button's token is kept as its SHA-256 (it is shown once, when the button is made).
 */
export const m009: Migration = {
  version: 9,
  name: 'buttons',
  sql: `
    CREATE TABLE buttons (
      id              TEXT PRIMARY KEY,
      name            TEXT NOT NULL,
      zone            TEXT NOT NULL DEFAULT '',
      token_hash      TEXT NOT NULL UNIQUE,
      created_utc_ms  INTEGER NOT NULL,
      created_by      TEXT NOT NULL,
      disabled_utc_ms INTEGER
    ) STRICT;

    CREATE TABLE button_presses (
      id              TEXT PRIMARY KEY,
      button_id       TEXT NOT NULL REFERENCES buttons(id),
      pressed_utc_ms  INTEGER NOT NULL,
      window_from_ms  INTEGER NOT NULL,
      window_to_ms    INTEGER NOT NULL,
      cameras         TEXT NOT NULL,
      state           TEXT NOT NULL CHECK (state IN ('pending', 'completed', 'expired')),
      expires_utc_ms  INTEGER NOT NULL,
      incident_id     TEXT,
      ended_utc_ms    INTEGER
    ) STRICT;
    CREATE INDEX button_presses_state ON button_presses(state, expires_utc_ms);
    CREATE INDEX button_presses_button ON button_presses(button_id, pressed_utc_ms);
  `,
};
