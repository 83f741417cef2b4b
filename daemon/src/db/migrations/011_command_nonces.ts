import type { Migration } from './migration.js';

/**
 * Single-use nonces the box gives the force (`get_nonce`) for its high-risk commands while its clock is
 * not synchronised. Only the SHA-256 of a nonce is kept. A nonce's age is measured on the monotonic clock
 * of the process that gave it out (a wall clock that is wrong may also be set back): it is void in any
 * other process. A used nonce stays (with the command that used it) until purged, so a second use is
 * named as such rather than as an unknown nonce.
 */
export const m011: Migration = {
  version: 11,
  name: 'command-nonces',
  sql: `
    CREATE TABLE command_nonces (
      nonce_sha256   TEXT PRIMARY KEY,
      boot_id        TEXT NOT NULL,
      issued_mono_ms REAL NOT NULL,
      issued_utc     INTEGER NOT NULL,
      used_utc       INTEGER,
      used_by        TEXT
    ) STRICT;
  `,
};
