import type { Migration } from './migration.js';

/**
 * The outbox carries more than an incident's evidence: an incident's master clips (the force's
 * `upload_masters`) and the box's deletion receipts travel sealed and chunked the same way (`kind`). An envelope the force refuses for
 * good with a signed `rejected` receipt is `rejected` (with the force's reason) and never sent again.
 *
 * SQLite cannot change a CHECK in place: the table is rebuilt. Renaming a parent table moves its children's
 * REFERENCES with it, so the chunks are moved to a rebuilt table of their own before the old ones are
 * dropped (dropping a parent with children would cascade into them).
 */
export const m013: Migration = {
  version: 13,
  name: 'outbox-kinds',
  sql: `
    ALTER TABLE outbox RENAME TO outbox_v1;
    CREATE TABLE outbox (
      envelope_id      TEXT PRIMARY KEY,
      incident_id      TEXT NOT NULL,
      kind             TEXT NOT NULL DEFAULT 'evidence' CHECK (kind IN ('evidence', 'masters', 'deletions')),
      msg_seq          INTEGER NOT NULL UNIQUE,
      created_utc      INTEGER NOT NULL,
      state            TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'rejected')),
      manifest         TEXT NOT NULL,
      n_chunks         INTEGER NOT NULL,
      bytes            INTEGER NOT NULL,
      body_sha256      TEXT NOT NULL,
      working_files    TEXT NOT NULL DEFAULT '[]',
      attempts         INTEGER NOT NULL DEFAULT 0,
      next_attempt_utc INTEGER NOT NULL DEFAULT 0,
      last_sent_utc    INTEGER,
      resend           TEXT,
      last_error       TEXT,
      delivered_utc    INTEGER,
      receipt          TEXT,
      files_deleted_utc INTEGER,
      rejected_utc     INTEGER,
      rejected_reason  TEXT
    ) STRICT;
    INSERT INTO outbox (envelope_id, incident_id, msg_seq, created_utc, state, manifest, n_chunks, bytes, body_sha256, working_files,
                        attempts, next_attempt_utc, last_sent_utc, resend, last_error, delivered_utc, receipt, files_deleted_utc)
      SELECT envelope_id, incident_id, msg_seq, created_utc, state, manifest, n_chunks, bytes, body_sha256, working_files,
             attempts, next_attempt_utc, last_sent_utc, resend, last_error, delivered_utc, receipt, files_deleted_utc
      FROM outbox_v1;
    ALTER TABLE outbox_chunks RENAME TO outbox_chunks_v1;
    CREATE TABLE outbox_chunks (
      envelope_id TEXT NOT NULL REFERENCES outbox (envelope_id) ON DELETE CASCADE,
      idx         INTEGER NOT NULL,
      data        BLOB NOT NULL,
      PRIMARY KEY (envelope_id, idx)
    ) STRICT;
    INSERT INTO outbox_chunks (envelope_id, idx, data) SELECT envelope_id, idx, data FROM outbox_chunks_v1;
    DROP TABLE outbox_chunks_v1;
    DROP TABLE outbox_v1;
    CREATE INDEX outbox_due ON outbox (state, next_attempt_utc);
    CREATE INDEX outbox_incident ON outbox (incident_id, kind);
  `,
};
