import type { Migration } from './migration.js';

export const m001: Migration = {
  version: 1,
  name: 'init',
  sql: `
    CREATE TABLE meta (
      key   TEXT PRIMARY KEY,
      value TEXT NOT NULL
    ) STRICT;

    CREATE TABLE boots (
      id          TEXT PRIMARY KEY,
      started_utc INTEGER NOT NULL,
      stopped_utc INTEGER,
      version     TEXT NOT NULL,
      clean_stop  INTEGER NOT NULL DEFAULT 0 CHECK (clean_stop IN (0, 1))
    ) STRICT;
  `,
};
