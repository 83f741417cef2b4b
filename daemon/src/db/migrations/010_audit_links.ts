import type { Migration } from './migration.js';

/**
 * Audit rows the force can check without reading them, and a log that does not grow for ever:
 * - `hv` 2 rows chain as `hash = sha256(prev_hash || content_digest)`, `content_digest` the SHA-256 of the
 *   row's canonical content, so the force, given the digests of the rows since a head it acknowledged,
 *   verifies that a new head extends it (rows written before this migration keep their format, `hv` 1);
 * - rows the force acknowledged may be pruned once old: the last pruned row's place in the chain is kept
 *   as the anchor the remaining rows link to, and the delete trigger refuses any row after the anchor.
 */
export const AUDIT_LINKS_SQL = `
    ALTER TABLE audit ADD COLUMN hv INTEGER NOT NULL DEFAULT 1 CHECK (hv IN (1, 2));

    CREATE TABLE audit_anchor (
      id         INTEGER PRIMARY KEY CHECK (id = 1),
      seq        INTEGER NOT NULL,
      hash       TEXT NOT NULL,
      pruned_utc INTEGER NOT NULL
    ) STRICT;

    DROP TRIGGER audit_no_delete;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    WHEN OLD.seq > COALESCE((SELECT seq FROM audit_anchor WHERE id = 1), 0)
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: only rows behind the anchor the force acknowledged can be pruned'); END;
`;

export const m010: Migration = {
  version: 10,
  name: 'audit-links',
  sql: AUDIT_LINKS_SQL,
};
