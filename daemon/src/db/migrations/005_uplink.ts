import type { Migration } from './migration.js';

/**
 * Uplink: the outbox of sealed envelopes (ciphertext only: the box cannot read its own outbox), their
 * chunks, force receipts, installed force key sets, the device's envelope sequence, and the per-issuer
 * command sequence for signed commands.
 */
export const m005: Migration = {
  version: 5,
  name: 'uplink',
  sql: `
    CREATE TABLE outbox (
      envelope_id      TEXT PRIMARY KEY,
      incident_id      TEXT NOT NULL,
      msg_seq          INTEGER NOT NULL UNIQUE,
      created_utc      INTEGER NOT NULL,
      state            TEXT NOT NULL CHECK (state IN ('pending', 'delivered')),
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
      files_deleted_utc INTEGER
    ) STRICT;
    CREATE INDEX outbox_due ON outbox (state, next_attempt_utc);
    CREATE INDEX outbox_incident ON outbox (incident_id);

    CREATE TABLE outbox_chunks (
      envelope_id TEXT NOT NULL REFERENCES outbox (envelope_id) ON DELETE CASCADE,
      idx         INTEGER NOT NULL,
      data        BLOB NOT NULL,
      PRIMARY KEY (envelope_id, idx)
    ) STRICT;

    CREATE TABLE receipts (
      id           INTEGER PRIMARY KEY,
      envelope_id  TEXT NOT NULL,
      received_utc INTEGER NOT NULL,
      status       TEXT NOT NULL,
      missing      TEXT NOT NULL,
      signer_kid   TEXT NOT NULL,
      raw          TEXT NOT NULL
    ) STRICT;
    CREATE INDEX receipts_envelope ON receipts (envelope_id);

    CREATE TABLE key_sets (
      seq           INTEGER PRIMARY KEY,
      root_kid      TEXT NOT NULL,
      signed        TEXT NOT NULL,
      installed_utc INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE command_seq (
      issuer_kid TEXT PRIMARY KEY,
      last_seq   INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE commands_seen (
      cmd_id       TEXT PRIMARY KEY,
      received_utc INTEGER NOT NULL
    ) STRICT;
  `,
};
