import type { Migration } from './migration.js';

/**
 * The accounts, sessions, login failures and setup code of a web app, with its roles (the box's web app
 * and the force's console keep the same tables, so one repository and one set of rules serve both).
 */
export function webAccountTables(roles: readonly string[]): string {
  return `
    CREATE TABLE web_accounts (
      id              TEXT PRIMARY KEY,
      role            TEXT NOT NULL CHECK (role IN (${roles.map((r) => `'${r}'`).join(', ')})),
      name            TEXT NOT NULL,
      name_key        TEXT NOT NULL UNIQUE,
      secret_hash     TEXT NOT NULL,
      created_utc_ms  INTEGER NOT NULL,
      created_by      TEXT NOT NULL,
      disabled_utc_ms INTEGER
    ) STRICT;

    CREATE TABLE web_sessions (
      id_hash         TEXT PRIMARY KEY,
      account_id      TEXT NOT NULL REFERENCES web_accounts(id),
      csrf            TEXT NOT NULL,
      created_utc_ms  INTEGER NOT NULL,
      seen_utc_ms     INTEGER NOT NULL,
      ip              TEXT NOT NULL,
      revoked_utc_ms  INTEGER
    ) STRICT;
    CREATE INDEX web_sessions_account ON web_sessions(account_id);

    CREATE TABLE web_login_failures (
      key             TEXT PRIMARY KEY,
      failures        INTEGER NOT NULL,
      first_utc_ms    INTEGER NOT NULL,
      locked_until_ms INTEGER NOT NULL DEFAULT 0
    ) STRICT;

    CREATE TABLE web_setup (
      id              INTEGER PRIMARY KEY CHECK (id = 1),
      code            TEXT NOT NULL,
      created_utc_ms  INTEGER NOT NULL,
      used_utc_ms     INTEGER
    ) STRICT;
  `;
}

/**
 * The web app's accounts, sessions and login throttling. Secrets are never stored as given: passwords and
 * PINs as scrypt hashes, session ids as SHA-256 (the cookie holds the id itself). The one-time setup code
 * is kept as it is (`hindsight web setup-code` shows it again) and is void once the first manager exists.
 * Failed logins are kept per key (an IP, an account name) so a lockout survives a restart.
 */
export const m008: Migration = {
  version: 8,
  name: 'web accounts',
  sql: `
${webAccountTables(['manager', 'staff'])}
    CREATE TABLE web_requests (
      account_id      TEXT NOT NULL,
      request_key     TEXT NOT NULL,
      incident_id     TEXT NOT NULL,
      created_utc_ms  INTEGER NOT NULL,
      PRIMARY KEY (account_id, request_key)
    ) STRICT;
  `,
};
