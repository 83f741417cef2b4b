import type { Db } from '../db.js';
import { statement } from '../statements.js';
import type { Clock } from '../../util/clock.js';
import { newId } from '../../util/ids.js';

export interface WebAccount {
  id: string;
  /** The app's own role names (the box: manager, staff; the force's console: admin, supervisor, reviewer). */
  role: string;
  name: string;
  createdUtcMs: number;
  createdBy: string;
  disabled: boolean;
}

export interface WebSession {
  accountId: string;
  csrf: string;
  createdUtcMs: number;
  seenUtcMs: number;
}

interface AccountRow {
  id: string;
  role: string;
  name: string;
  secret_hash: string;
  created_utc_ms: number;
  created_by: string;
  disabled_utc_ms: number | null;
}

const account = (r: AccountRow): WebAccount => ({ id: r.id, role: r.role, name: r.name, createdUtcMs: r.created_utc_ms, createdBy: r.created_by, disabled: r.disabled_utc_ms !== null });

/** Account names compare without case or surrounding space ("Sam " and "sam" are one person). */
export function nameKey(name: string): string {
  return name.normalize('NFKC').trim().toLowerCase();
}

/**
 * The rows of a web app's accounts, sessions, login failures and setup code: plain storage, no rules
 * (those are in https/accounts.ts). The box's database has them from migration 008, the force's from
 * f008; the tables are the same, only the roles a database accepts differ (a CHECK in each migration).
 */
export class WebRepo {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  // --- accounts ---
  createAccount(role: string, name: string, secretHash: string, createdBy: string): WebAccount {
    const id = newId();
    statement(this.db, 'INSERT INTO web_accounts (id, role, name, name_key, secret_hash, created_utc_ms, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)').run(id, role, name.trim(), nameKey(name), secretHash, this.clock.now(), createdBy);
    return this.account(id)!;
  }

  account(id: string): WebAccount | undefined {
    const r = statement(this.db, 'SELECT * FROM web_accounts WHERE id = ?').get(id) as AccountRow | undefined;
    return r && account(r);
  }

  /** The account of a name with its secret's hash (for login only). */
  accountForLogin(name: string): (WebAccount & { secretHash: string }) | undefined {
    const r = statement(this.db, 'SELECT * FROM web_accounts WHERE name_key = ?').get(nameKey(name)) as AccountRow | undefined;
    return r && { ...account(r), secretHash: r.secret_hash };
  }

  setSecret(id: string, secretHash: string): void {
    statement(this.db, 'UPDATE web_accounts SET secret_hash = ? WHERE id = ?').run(secretHash, id);
  }

  setDisabled(id: string, disabled: boolean): void {
    statement(this.db, 'UPDATE web_accounts SET disabled_utc_ms = ? WHERE id = ?').run(disabled ? this.clock.now() : null, id);
  }

  /** End every session of an account (its PIN changed, or it was disabled). */
  revokeSessionsOf(accountId: string): void {
    statement(this.db, 'UPDATE web_sessions SET revoked_utc_ms = ? WHERE account_id = ? AND revoked_utc_ms IS NULL').run(this.clock.now(), accountId);
  }

  accounts(): WebAccount[] {
    return (statement(this.db, 'SELECT * FROM web_accounts ORDER BY role, name_key').all() as AccountRow[]).map(account);
  }

  /** Accounts of a role that are not turned off. */
  activeAccounts(role: string): number {
    return statement(this.db, 'SELECT count(*) FROM web_accounts WHERE role = ? AND disabled_utc_ms IS NULL').pluck().get(role) as number;
  }

  /** The box's managers (`hindsight web setup-code` asks whether the first one exists). */
  managers(): number {
    return this.activeAccounts('manager');
  }

  // --- sessions ---
  createSession(idHash: string, accountId: string, csrf: string, ip: string): void {
    const now = this.clock.now();
    statement(this.db, 'INSERT INTO web_sessions (id_hash, account_id, csrf, created_utc_ms, seen_utc_ms, ip) VALUES (?, ?, ?, ?, ?, ?)').run(idHash, accountId, csrf, now, now, ip);
  }

  session(idHash: string): WebSession | undefined {
    const r = statement(this.db, 'SELECT account_id, csrf, created_utc_ms, seen_utc_ms FROM web_sessions WHERE id_hash = ? AND revoked_utc_ms IS NULL').get(idHash) as
      | { account_id: string; csrf: string; created_utc_ms: number; seen_utc_ms: number }
      | undefined;
    return r && { accountId: r.account_id, csrf: r.csrf, createdUtcMs: r.created_utc_ms, seenUtcMs: r.seen_utc_ms };
  }

  touchSession(idHash: string): void {
    statement(this.db, 'UPDATE web_sessions SET seen_utc_ms = ? WHERE id_hash = ?').run(this.clock.now(), idHash);
  }

  /** End every open session (a force command after a suspected takeover); returns how many. */
  revokeAllSessions(): number {
    return statement(this.db, 'UPDATE web_sessions SET revoked_utc_ms = ? WHERE revoked_utc_ms IS NULL').run(this.clock.now()).changes;
  }

  revokeSession(idHash: string): void {
    statement(this.db, 'UPDATE web_sessions SET revoked_utc_ms = ? WHERE id_hash = ? AND revoked_utc_ms IS NULL').run(this.clock.now(), idHash);
  }

  /** Sessions ended (revoked or timed out) long ago are of no use: removed. */
  pruneSessions(beforeUtcMs: number): void {
    statement(this.db, 'DELETE FROM web_sessions WHERE seen_utc_ms < ? OR (revoked_utc_ms IS NOT NULL AND revoked_utc_ms < ?)').run(beforeUtcMs, beforeUtcMs);
  }

  // --- failed logins ---
  failures(key: string): { failures: number; firstUtcMs: number; lockedUntilMs: number } | undefined {
    const r = statement(this.db, 'SELECT failures, first_utc_ms, locked_until_ms FROM web_login_failures WHERE key = ?').get(key) as
      | { failures: number; first_utc_ms: number; locked_until_ms: number }
      | undefined;
    return r && { failures: r.failures, firstUtcMs: r.first_utc_ms, lockedUntilMs: r.locked_until_ms };
  }

  setFailures(key: string, failures: number, firstUtcMs: number, lockedUntilMs: number): void {
    statement(this.db, 'INSERT INTO web_login_failures (key, failures, first_utc_ms, locked_until_ms) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, first_utc_ms = excluded.first_utc_ms, locked_until_ms = excluded.locked_until_ms').run(
      key,
      failures,
      firstUtcMs,
      lockedUntilMs,
    );
  }

  clearFailures(key: string): void {
    statement(this.db, 'DELETE FROM web_login_failures WHERE key = ?').run(key);
  }

  // --- the one-time setup code ---
  setupCode(): { code: string; used: boolean } | undefined {
    const r = statement(this.db, 'SELECT code, used_utc_ms FROM web_setup WHERE id = 1').get() as { code: string; used_utc_ms: number | null } | undefined;
    return r && { code: r.code, used: r.used_utc_ms !== null };
  }

  saveSetupCode(code: string): void {
    statement(this.db, 'INSERT INTO web_setup (id, code, created_utc_ms) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET code = excluded.code, created_utc_ms = excluded.created_utc_ms, used_utc_ms = NULL').run(code, this.clock.now());
  }

  useSetupCode(): void {
    statement(this.db, 'UPDATE web_setup SET used_utc_ms = ? WHERE id = 1').run(this.clock.now());
  }

  // --- the box only (table web_requests): one incident per submitted form (a double tap or a resent request gives the same incident) ---
  submitted(accountId: string, requestKey: string): string | undefined {
    return statement(this.db, 'SELECT incident_id FROM web_requests WHERE account_id = ? AND request_key = ?').pluck().get(accountId, requestKey) as string | undefined;
  }

  recordSubmitted(accountId: string, requestKey: string, incidentId: string): void {
    statement(this.db, 'INSERT INTO web_requests (account_id, request_key, incident_id, created_utc_ms) VALUES (?, ?, ?, ?)').run(accountId, requestKey, incidentId, this.clock.now());
  }
}
