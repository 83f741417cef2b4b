import type { Migration } from './migration.js';

/**
 * An investigator's hold on an incident's master clips (the force's `hold_incident`): kept past
 * `incidents.master_retention_days` until the hold ends. One row per held incident.
 */
export const m012: Migration = {
  version: 12,
  name: 'master-holds',
  sql: `
    CREATE TABLE master_holds (
      incident_id TEXT PRIMARY KEY,
      until_utc   INTEGER NOT NULL,
      set_utc     INTEGER NOT NULL,
      set_by      TEXT NOT NULL
    ) STRICT;
  `,
};
