import type { Migration } from './migration.js';

/**
 * Cameras, the rolling buffer's segment index, gaps, evidence locks, alarms and per-camera recorder status.
 *
 * Times are UTC milliseconds. Segments, gaps and locks refer to a camera id without a foreign key on purpose:
 * they are facts about footage that outlive a camera's registration (a removed camera's locked footage stays
 * until its lock is released and retention removes it).
 */
export const m003: Migration = {
  version: 3,
  name: 'recorder',
  sql: `
    CREATE TABLE cameras (
      id                     TEXT PRIMARY KEY,
      name                   TEXT NOT NULL,
      url                    TEXT NOT NULL,          -- never holds credentials
      transport              TEXT NOT NULL CHECK (transport IN ('tcp', 'udp')),
      zone                   TEXT NOT NULL DEFAULT '',
      enabled                INTEGER NOT NULL CHECK (enabled IN (0, 1)),
      credentials_key_id     TEXT,                   -- which key sealed them (a changed key file is named, not guessed)
      credentials_nonce      BLOB,
      credentials_ciphertext BLOB,                   -- AES-256-GCM of {"username","password"}, tag appended
      created_utc_ms         INTEGER NOT NULL,
      updated_utc_ms         INTEGER NOT NULL,
      CHECK ((credentials_ciphertext IS NULL) = (credentials_nonce IS NULL))
    ) STRICT;

    CREATE TABLE segments (
      id           INTEGER PRIMARY KEY,
      camera_id    TEXT NOT NULL,
      path         TEXT NOT NULL UNIQUE,             -- relative to the buffer folder: <camera>/<run>_<n>.ts
      start_utc_ms INTEGER NOT NULL,
      end_utc_ms   INTEGER NOT NULL,
      bytes        INTEGER NOT NULL,
      run_id       TEXT NOT NULL,
      recovered    INTEGER NOT NULL DEFAULT 0 CHECK (recovered IN (0, 1)),  -- salvaged after ffmpeg was killed mid-segment
      CHECK (end_utc_ms >= start_utc_ms)
    ) STRICT;
    CREATE INDEX segments_camera_start ON segments (camera_id, start_utc_ms);
    CREATE INDEX segments_start ON segments (start_utc_ms);

    CREATE TABLE gaps (
      id           INTEGER PRIMARY KEY,
      camera_id    TEXT NOT NULL,
      start_utc_ms INTEGER NOT NULL,
      end_utc_ms   INTEGER,                          -- NULL while the camera is still not recording
      reason       TEXT NOT NULL,
      CHECK (end_utc_ms IS NULL OR end_utc_ms >= start_utc_ms)
    ) STRICT;
    CREATE INDEX gaps_camera_start ON gaps (camera_id, start_utc_ms);
    CREATE UNIQUE INDEX gaps_one_open ON gaps (camera_id) WHERE end_utc_ms IS NULL;

    CREATE TABLE evidence_locks (
      id              TEXT PRIMARY KEY,
      holder          TEXT NOT NULL,                 -- e.g. an incident id
      camera_id       TEXT NOT NULL,
      from_utc_ms     INTEGER NOT NULL,
      to_utc_ms       INTEGER NOT NULL,              -- may lie in the future: footage recorded later is covered too
      created_utc_ms  INTEGER NOT NULL,
      released_utc_ms INTEGER,                       -- NULL while held
      CHECK (to_utc_ms > from_utc_ms)
    ) STRICT;
    CREATE INDEX evidence_locks_held ON evidence_locks (camera_id, from_utc_ms) WHERE released_utc_ms IS NULL;
    CREATE INDEX evidence_locks_holder ON evidence_locks (holder);

    CREATE TABLE alarms (
      id             TEXT PRIMARY KEY,
      kind           TEXT NOT NULL,                  -- e.g. buffer.locked_over_quota
      subject        TEXT NOT NULL,                  -- what it is about: a camera id, or 'buffer'
      message        TEXT NOT NULL,
      raised_utc_ms  INTEGER NOT NULL,
      cleared_utc_ms INTEGER
    ) STRICT;
    CREATE UNIQUE INDEX alarms_one_active ON alarms (kind, subject) WHERE cleared_utc_ms IS NULL;

    -- Written by the running recorder so the CLI and the UI (other processes) can show live state.
    CREATE TABLE camera_status (
      camera_id               TEXT PRIMARY KEY,
      state                   TEXT NOT NULL CHECK (state IN ('recording', 'reconnecting', 'failed', 'disabled')),
      reason                  TEXT,
      since_utc_ms            INTEGER NOT NULL,
      fps                     REAL,
      bitrate_kbps            REAL,
      last_segment_end_utc_ms INTEGER,
      spawns                  INTEGER NOT NULL DEFAULT 0,
      boot_id                 TEXT NOT NULL,
      updated_utc_ms          INTEGER NOT NULL
    ) STRICT;
  `,
};
