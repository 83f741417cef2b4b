import type { Migration } from './migration.js';

/**
 * A camera can record while its video does not decode (well-formed RTP around garbage). The recorder's verdict
 * on the video is kept beside the live status in its own table (camera_status's CHECK on states cannot be
 * widened in place); a recording camera whose video is judged undecodable reads as state `undecodable`.
 */
export const m007: Migration = {
  version: 7,
  name: 'camera states',
  sql: `
    CREATE TABLE camera_states (
      camera_id     TEXT PRIMARY KEY,
      video         TEXT NOT NULL CHECK (video IN ('decodes', 'undecodable')),
      since_utc_ms  INTEGER NOT NULL
    ) STRICT;
  `,
};
