import type { Migration } from './migration.js';

/** Incidents and their per-camera master clips; the state machine lives in incidents/. */
export const m004: Migration = {
  version: 4,
  name: 'incidents',
  sql: `
    CREATE TABLE incidents (
      id              TEXT PRIMARY KEY,
      state           TEXT NOT NULL,
      failed_state    TEXT,
      failure         TEXT,
      logged_at_ms    INTEGER NOT NULL,
      incident_at_ms  INTEGER NOT NULL,
      window_from_ms  INTEGER NOT NULL,
      window_to_ms    INTEGER NOT NULL CHECK (window_to_ms > window_from_ms),
      reason          TEXT NOT NULL,
      justification   TEXT NOT NULL,
      logged_by_type  TEXT NOT NULL,
      logged_by_id    TEXT NOT NULL,
      logged_by_role  TEXT,
      camera_selector TEXT NOT NULL,
      attempts        INTEGER NOT NULL DEFAULT 0,
      next_attempt_ms INTEGER,
      progress        TEXT,
      manifest        TEXT,
      updated_at_ms   INTEGER NOT NULL,
      closed_at_ms    INTEGER
    ) STRICT;

    CREATE INDEX incidents_state ON incidents (state, logged_at_ms);
    CREATE INDEX incidents_logger ON incidents (logged_by_id, logged_at_ms);

    CREATE TABLE incident_cameras (
      incident_id   TEXT NOT NULL REFERENCES incidents (id),
      camera_id     TEXT NOT NULL,
      clip_state    TEXT NOT NULL DEFAULT 'pending' CHECK (clip_state IN ('pending', 'done', 'empty', 'failed')),
      clip_path     TEXT,
      clip_sha256   TEXT,
      clip_bytes    INTEGER,
      clip_start_ms INTEGER,
      clip_end_ms   INTEGER,
      coverage      REAL,
      detail        TEXT,
      error         TEXT,
      PRIMARY KEY (incident_id, camera_id)
    ) STRICT;
  `,
};
