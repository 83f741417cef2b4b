import { m002 } from '../../db/migrations/002_audit.js';
import type { Migration } from '../../db/migrations/index.js';
import { webAccountTables } from '../../db/migrations/008_web.js';
import { AUDIT_LINKS_SQL } from '../../db/migrations/010_audit_links.js';

/**
 * The force database's own migrations (not the box's). The audit table is the same append-only,
 * hash-chained one the box uses, so the same AuditLog code verifies both.
 */
const f001: Migration = {
  version: 1,
  name: 'force-init',
  sql: `
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
  `,
};

const f003: Migration = {
  version: 3,
  name: 'force-evidence',
  sql: `
    CREATE TABLE devices (
      id             TEXT PRIMARY KEY,
      store          TEXT NOT NULL,
      signing_pk     TEXT,
      signing_kid    TEXT,
      enrolled_utc   INTEGER NOT NULL,
      registered_utc INTEGER,
      revoked        INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
    ) STRICT;

    CREATE TABLE envelopes (
      envelope_id       TEXT PRIMARY KEY,
      device_id         TEXT NOT NULL,
      incident_id       TEXT NOT NULL,
      msg_seq           INTEGER NOT NULL,
      state             TEXT NOT NULL CHECK (state IN ('receiving', 'opening', 'stored', 'rejected')),
      manifest          TEXT NOT NULL,
      n_chunks          INTEGER NOT NULL,
      first_seen_utc    INTEGER NOT NULL,
      last_activity_utc INTEGER NOT NULL,
      stored_utc        INTEGER,
      reason            TEXT
    ) STRICT;
    -- Replay protection: one msg_seq of a device belongs to one envelope, for ever.
    CREATE UNIQUE INDEX envelopes_device_seq ON envelopes (device_id, msg_seq);
    CREATE INDEX envelopes_state ON envelopes (state, last_activity_utc);

    CREATE TABLE chunks (
      envelope_id TEXT NOT NULL,
      idx         INTEGER NOT NULL,
      data        BLOB NOT NULL,
      PRIMARY KEY (envelope_id, idx)
    ) STRICT;

    CREATE TABLE incidents (
      envelope_id  TEXT PRIMARY KEY,
      incident_id  TEXT NOT NULL,
      device_id    TEXT NOT NULL,
      store        TEXT NOT NULL,
      window_start INTEGER NOT NULL,
      window_end   INTEGER NOT NULL,
      received_utc INTEGER NOT NULL,
      dir          TEXT NOT NULL,
      manifest     TEXT NOT NULL,
      verified     TEXT NOT NULL
    ) STRICT;
    CREATE INDEX incidents_incident ON incidents (device_id, incident_id);

    CREATE TABLE files (
      envelope_id TEXT NOT NULL,
      name        TEXT NOT NULL,
      kind        TEXT NOT NULL,
      sha256      TEXT NOT NULL,
      bytes       INTEGER NOT NULL,
      path        TEXT NOT NULL,
      PRIMARY KEY (envelope_id, name)
    ) STRICT;

    CREATE TABLE subjects (
      envelope_id TEXT NOT NULL,
      subject_id  TEXT NOT NULL,
      cameras     TEXT NOT NULL,
      crops       TEXT NOT NULL,
      first_seen  INTEGER,
      model       TEXT,
      embedding   BLOB,
      PRIMARY KEY (envelope_id, subject_id)
    ) STRICT;

    CREATE TABLE rejections (
      id          INTEGER PRIMARY KEY,
      ts_utc      INTEGER NOT NULL,
      device_id   TEXT,
      envelope_id TEXT,
      topic       TEXT,
      reason      TEXT NOT NULL,
      detail      TEXT NOT NULL
    ) STRICT;
  `,
};

/**
 * Every signing key a box has had: a replaced key stays, so evidence it signed still verifies; each stored
 * incident names the key that signed it.
 */
const f004: Migration = {
  version: 4,
  name: 'force-device-keys',
  sql: `
    CREATE TABLE device_keys (
      device_id      TEXT NOT NULL,
      kid            TEXT NOT NULL,
      pk             TEXT NOT NULL,
      registered_utc INTEGER NOT NULL,
      replaced_utc   INTEGER,
      PRIMARY KEY (device_id, kid)
    ) STRICT;
    INSERT INTO device_keys (device_id, kid, pk, registered_utc)
      SELECT id, signing_kid, signing_pk, COALESCE(registered_utc, enrolled_utc) FROM devices WHERE signing_pk IS NOT NULL AND signing_kid IS NOT NULL;
    ALTER TABLE incidents ADD COLUMN signer_kid TEXT;
    UPDATE incidents SET signer_kid = (SELECT d.signing_kid FROM devices d WHERE d.id = incidents.device_id);
  `,
};

/**
 * The workbench: every stored incident waits in triage (its faces neither searched nor shown) until an
 * officer accepts it with a crime reference and the subjects to search, or rejects it (its evidence is
 * deleted); the custody gallery (photos embedded per model); the candidate lists of searched subjects.
 * Incidents stored before this migration join the triage queue, untriaged.
 */
const f005: Migration = {
  version: 5,
  name: 'force-workbench',
  sql: `
    CREATE TABLE triage (
      envelope_id  TEXT PRIMARY KEY,
      incident_id  TEXT NOT NULL,
      device_id    TEXT NOT NULL,
      state        TEXT NOT NULL CHECK (state IN ('untriaged', 'accepted', 'rejected', 'expired')),
      received_utc INTEGER NOT NULL,
      decided_utc  INTEGER,
      decided_by   TEXT,
      crime_ref    TEXT,
      necessity    TEXT,
      subjects     TEXT,
      deleted_utc  INTEGER
    ) STRICT;
    CREATE INDEX triage_state ON triage (state, received_utc);
    INSERT INTO triage (envelope_id, incident_id, device_id, state, received_utc)
      SELECT envelope_id, incident_id, device_id, 'untriaged', received_utc FROM incidents;

    CREATE TABLE gallery_persons (
      person_ref  TEXT PRIMARY KEY,
      added_utc   INTEGER NOT NULL,
      updated_utc INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE gallery_photos (
      photo_id    TEXT PRIMARY KEY,
      person_ref  TEXT NOT NULL REFERENCES gallery_persons (person_ref),
      file        TEXT NOT NULL,
      sha256      TEXT NOT NULL,
      stored_path TEXT NOT NULL,
      captured    TEXT NOT NULL,
      source      TEXT NOT NULL,
      model       TEXT NOT NULL,
      embedding   BLOB NOT NULL,
      face_score  REAL NOT NULL,
      added_utc   INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX gallery_photos_person ON gallery_photos (person_ref);
    CREATE INDEX gallery_photos_model ON gallery_photos (model);
    CREATE UNIQUE INDEX gallery_photos_file ON gallery_photos (person_ref, file);

    CREATE TABLE candidates (
      envelope_id  TEXT NOT NULL,
      subject_id   TEXT NOT NULL,
      rank         INTEGER NOT NULL,
      person_ref   TEXT NOT NULL,
      photo_id     TEXT NOT NULL,
      score        REAL NOT NULL,
      model        TEXT NOT NULL,
      searched_utc INTEGER NOT NULL,
      PRIMARY KEY (envelope_id, subject_id, rank)
    ) STRICT;
    CREATE INDEX candidates_person ON candidates (person_ref);
  `,
};

/**
 * Human review: each reviewer's decision per searched subject (a possible match needs a second, different
 * reviewer to agree before it is shown as one); series: links between subjects of accepted incidents that
 * look like the same unknown person; when a subject was deleted by retention.
 */
const f006: Migration = {
  version: 6,
  name: 'force-review',
  sql: `
    CREATE TABLE decisions (
      envelope_id TEXT NOT NULL,
      subject_id  TEXT NOT NULL,
      reviewer    TEXT NOT NULL,
      decision    TEXT NOT NULL CHECK (decision IN ('possible_match', 'no_match', 'not_usable')),
      person_ref  TEXT,
      reason      TEXT NOT NULL,
      decided_utc INTEGER NOT NULL,
      PRIMARY KEY (envelope_id, subject_id, reviewer)
    ) STRICT;

    CREATE TABLE series_links (
      a_envelope TEXT NOT NULL,
      a_subject  TEXT NOT NULL,
      b_envelope TEXT NOT NULL,
      b_subject  TEXT NOT NULL,
      score      REAL NOT NULL,
      state      TEXT NOT NULL CHECK (state IN ('linked', 'split')),
      linked_utc INTEGER NOT NULL,
      split_by   TEXT,
      PRIMARY KEY (a_envelope, a_subject, b_envelope, b_subject)
    ) STRICT;
    CREATE INDEX series_links_b ON series_links (b_envelope, b_subject);
  `,
};

/** The fleet: each box's presence (online/offline since when, boot id, birth/death sequence) and latest health. */
const f007: Migration = {
  version: 7,
  name: 'force-fleet',
  sql: `
    CREATE TABLE fleet (
      device_id    TEXT PRIMARY KEY,
      state        TEXT NOT NULL CHECK (state IN ('online', 'offline')),
      since_utc    INTEGER NOT NULL,
      boot_id      TEXT NOT NULL,
      bd_seq       INTEGER NOT NULL,
      version      TEXT NOT NULL,
      health       TEXT,
      health_utc   INTEGER
    ) STRICT;
  `,
};

/**
 * The reviewers' console: its accounts (admin, supervisor, reviewer), sessions, login failures and
 * one-time setup code. The same tables as the box's web app (migration 008, so the same repository and
 * rules serve both), with the force's roles. Passwords as scrypt hashes, session ids as SHA-256.
 */
const f008: Migration = {
  version: 8,
  name: 'force-console-accounts',
  sql: `
    ${webAccountTables(['admin', 'supervisor', 'reviewer'])}
  `,
};

/**
 * Signed commands to boxes: each one as signed, its state (queued until a receiver publishes it, sent,
 * then done or failed by the box's reply, or expired unanswered) and the reply; the last sequence number
 * given out per issuer key (a box refuses a sequence it has seen, so it only ever rises).
 */
const f009: Migration = {
  version: 9,
  name: 'force-commands',
  sql: `
    CREATE TABLE command_seq (
      issuer_kid TEXT PRIMARY KEY,
      last_seq   INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE fleet_commands (
      cmd_id       TEXT PRIMARY KEY,
      device_id    TEXT NOT NULL,
      op           TEXT NOT NULL,
      args         TEXT NOT NULL,
      issuer_kid   TEXT NOT NULL,
      seq          INTEGER NOT NULL,
      iat_utc      INTEGER NOT NULL,
      exp_utc      INTEGER NOT NULL,
      signed       TEXT NOT NULL,
      status       TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'done', 'failed', 'expired')),
      requested_by TEXT NOT NULL,
      created_utc  INTEGER NOT NULL,
      sent_utc     INTEGER,
      replied_utc  INTEGER,
      reply        TEXT,
      error        TEXT
    ) STRICT;
    CREATE INDEX fleet_commands_due ON fleet_commands (status, exp_utc);
    CREATE INDEX fleet_commands_device ON fleet_commands (device_id, created_utc);
  `,
};

/**
 * The fleet's configuration and groups: each box's desired force-owned configuration (every version, as
 * signed; published retained by a receiver) and what the box last reported; named groups of boxes (a
 * command or configuration to a group is a job whose per-box states are its rows).
 */
const f010: Migration = {
  version: 10,
  name: 'force-desired-config-groups',
  sql: `
    CREATE TABLE desired_config (
      device_id     TEXT NOT NULL,
      version       INTEGER NOT NULL,
      config        TEXT NOT NULL,
      signed        TEXT NOT NULL,
      created_utc   INTEGER NOT NULL,
      created_by    TEXT NOT NULL,
      job_id        TEXT,
      published_utc INTEGER,
      PRIMARY KEY (device_id, version)
    ) STRICT;
    CREATE INDEX desired_config_unpublished ON desired_config (published_utc) WHERE published_utc IS NULL;

    CREATE TABLE reported_config (
      device_id        TEXT PRIMARY KEY,
      applied_version  INTEGER NOT NULL,
      sha256           TEXT NOT NULL,
      restart_required INTEGER NOT NULL CHECK (restart_required IN (0, 1)),
      rejected_version INTEGER,
      errors           TEXT,
      reported_utc     INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE device_groups (
      group_name TEXT NOT NULL,
      device_id  TEXT NOT NULL,
      PRIMARY KEY (group_name, device_id)
    ) STRICT;

    ALTER TABLE fleet_commands ADD COLUMN job_id TEXT;
    CREATE INDEX fleet_commands_job ON fleet_commands (job_id) WHERE job_id IS NOT NULL;
  `,
};

/** The audit table's link format 2 and anchor, as the box's migration 010 (the same AuditLog code serves both). */
const f011: Migration = {
  version: 11,
  name: 'force-audit-links',
  sql: AUDIT_LINKS_SQL,
};

/** The latest audit head each box sent and how it checked out (see fleet.ts). */
const f012: Migration = {
  version: 12,
  name: 'force-audit-heads',
  sql: `
    CREATE TABLE audit_heads (
      device_id     TEXT PRIMARY KEY,
      count         INTEGER NOT NULL,
      head_hash     TEXT NOT NULL,
      box_ts        INTEGER NOT NULL,
      checked_utc   INTEGER NOT NULL,
      status        TEXT NOT NULL CHECK (status IN ('baseline', 'extended', 'alarm')),
      alarm         TEXT
    ) STRICT;
  `,
};

/**
 * An incident's master clips, fetched from its box by `upload_masters` (one envelope per clip), checked
 * against the clip hashes of the incident's evidence manifest (`evidence_envelope_id`); and the boxes'
 * deletion receipts (the audit rows of what each box deleted, sealed like evidence), one row per box row.
 */
const f013: Migration = {
  version: 13,
  name: 'force-master-clips',
  sql: `
    CREATE TABLE master_clips (
      envelope_id          TEXT PRIMARY KEY,
      device_id            TEXT NOT NULL,
      incident_id          TEXT NOT NULL,
      camera               TEXT NOT NULL,
      name                 TEXT NOT NULL,
      sha256               TEXT NOT NULL,
      bytes                INTEGER NOT NULL,
      path                 TEXT NOT NULL,
      received_utc         INTEGER NOT NULL,
      evidence_envelope_id TEXT NOT NULL
    ) STRICT;
    CREATE INDEX master_clips_incident ON master_clips (device_id, incident_id);

    CREATE TABLE deletion_receipts (
      device_id     TEXT NOT NULL,
      seq           INTEGER NOT NULL,
      row_id        TEXT NOT NULL,
      ts_utc        INTEGER NOT NULL,
      action        TEXT NOT NULL,
      object_ids    TEXT NOT NULL,
      sha256s       TEXT NOT NULL,
      detail        TEXT NOT NULL,
      row_hash      TEXT NOT NULL,
      envelope_id   TEXT NOT NULL,
      received_utc  INTEGER NOT NULL,
      PRIMARY KEY (device_id, seq)
    ) STRICT;
  `,
};

/**
 * The figures of each box's latest health document that the fleet view shows, kept beside it when it
 * arrives: `fleet list` over a thousand boxes then reads a few columns instead of parsing megabytes of
 * documents. Filled here from the documents already stored.
 */
const f014: Migration = {
  version: 14,
  name: 'force-fleet-figures',
  sql: `
    ALTER TABLE fleet ADD COLUMN cameras_total INTEGER;
    ALTER TABLE fleet ADD COLUMN cameras_recording INTEGER;
    ALTER TABLE fleet ADD COLUMN alarms TEXT;
    ALTER TABLE fleet ADD COLUMN free_disk_bytes INTEGER;
    UPDATE fleet SET
      cameras_total = CASE json_type(health, '$.cameras') WHEN 'array' THEN json_array_length(health, '$.cameras') END,
      cameras_recording = CASE json_type(health, '$.cameras') WHEN 'array' THEN (SELECT count(*) FROM json_each(health, '$.cameras') WHERE json_extract(value, '$.state') = 'recording') END,
      alarms = CASE json_type(health, '$.alarms') WHEN 'array' THEN json_extract(health, '$.alarms') END,
      free_disk_bytes = CASE json_type(health, '$.disk.free_bytes') WHEN 'integer' THEN json_extract(health, '$.disk.free_bytes') WHEN 'real' THEN CAST(json_extract(health, '$.disk.free_bytes') AS INTEGER) END
    WHERE health IS NOT NULL;
  `,
};

/**
 * The gallery's generation: one counter bumped by triggers in the transaction of every change to a gallery
 * photo (insert, delete, a new embedding), whichever process or code path makes it. Each photo's
 * `index_key` is the generation at which its embedding was written, never reused: the search index
 * (force/gallery-index.ts) names photos by it, so a re-embedded or replaced photo is a new key and a
 * stale index is caught up by comparing key sets.
 */
const f015: Migration = {
  version: 15,
  name: 'force-gallery-generation',
  sql: `
    CREATE TABLE gallery_generation (
      id         INTEGER PRIMARY KEY CHECK (id = 1),
      generation INTEGER NOT NULL
    ) STRICT;
    ALTER TABLE gallery_photos ADD COLUMN index_key INTEGER;
    UPDATE gallery_photos SET index_key = rowid;
    INSERT INTO gallery_generation (id, generation) SELECT 1, COALESCE(MAX(rowid), 0) FROM gallery_photos;
    CREATE UNIQUE INDEX gallery_photos_index_key ON gallery_photos (index_key);

    CREATE TRIGGER gallery_photos_added AFTER INSERT ON gallery_photos BEGIN
      UPDATE gallery_generation SET generation = generation + 1;
      UPDATE gallery_photos SET index_key = (SELECT generation FROM gallery_generation) WHERE rowid = NEW.rowid;
    END;
    CREATE TRIGGER gallery_photos_reembedded AFTER UPDATE OF model, embedding ON gallery_photos BEGIN
      UPDATE gallery_generation SET generation = generation + 1;
      UPDATE gallery_photos SET index_key = (SELECT generation FROM gallery_generation) WHERE rowid = NEW.rowid;
    END;
    CREATE TRIGGER gallery_photos_deleted AFTER DELETE ON gallery_photos BEGIN
      UPDATE gallery_generation SET generation = generation + 1;
    END;
  `,
};

/** The epoch of each box's audit chain: a box restored from a backup starts a new one (backup/epoch.ts). */
const f016: Migration = {
  version: 16,
  name: 'force-audit-epochs',
  sql: `
    ALTER TABLE audit_heads ADD COLUMN epoch_id TEXT;
    ALTER TABLE audit_heads ADD COLUMN epoch_n INTEGER NOT NULL DEFAULT 0;
  `,
};

/**
 * Who is opening an envelope: a token of the attempt (intake.ts), the fence that lets only one receiver's
 * attempt store it when a sweep took over an opening that looked stuck but was only slow.
 */
const f017: Migration = {
  version: 17,
  name: 'force-envelope-opener',
  sql: `
    ALTER TABLE envelopes ADD COLUMN opener TEXT;
  `,
};

export const FORCE_MIGRATIONS: readonly Migration[] = [f001, m002, f003, f004, f005, f006, f007, f008, f009, f010, f011, f012, f013, f014, f015, f016, f017];
