import type { Migration } from './migration.js';

/** Append-only, hash-chained audit log: triggers refuse UPDATE and DELETE. */
export const m002: Migration = {
  version: 2,
  name: 'audit',
  sql: `
    CREATE TABLE audit (
      seq             INTEGER PRIMARY KEY,
      id              TEXT NOT NULL UNIQUE,
      ts_utc          INTEGER NOT NULL,
      clock_synced    INTEGER NOT NULL CHECK (clock_synced IN (0, 1)),
      clock_offset_ms REAL,
      actor_type      TEXT NOT NULL,
      actor_id        TEXT NOT NULL,
      actor_role      TEXT,
      action          TEXT NOT NULL,
      object_ids      TEXT NOT NULL,
      sha256s         TEXT NOT NULL,
      justification   TEXT,
      recipient       TEXT,
      result          TEXT NOT NULL CHECK (result IN ('ok', 'error', 'denied')),
      detail          TEXT NOT NULL,
      prev_hash       TEXT NOT NULL,
      hash            TEXT NOT NULL
    ) STRICT;

    CREATE INDEX audit_action ON audit (action, ts_utc);

    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: rows cannot be changed'); END;

    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: rows cannot be deleted'); END;
  `,
};
