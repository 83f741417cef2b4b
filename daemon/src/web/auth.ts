import { timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/log.js';
import type { AuditActor } from '../db/repos/audit.js';
import type { Clock } from '../util/clock.js';
import { WebError } from '../https/error.js';
import { hashSecret, newSetupCode, newToken, tokenHash, verifySecret } from '../https/secrets.js';
import { nameKey, type WebAccount, type WebRole, type WebRepo } from '../db/repos/web.js';

export interface WebAuthOptions {
  /** A session unused this long ends. */
  idleMs: number;
  /** A session ends this long after login, used or not. */
  absoluteMs: number;
  /** Failed logins of one account name before it is locked. */
  accountFailures: number;
  /** Failed logins from one address before it is locked (several people share a shop's address). */
  ipFailures: number;
  /** How long a lock lasts, and the window failures are counted in. */
  lockMs: number;
}

export const DEFAULT_AUTH: WebAuthOptions = { idleMs: 30 * 60_000, absoluteMs: 12 * 3600_000, accountFailures: 5, ipFailures: 20, lockMs: 15 * 60_000 };

/** A logged-in request: who, and the CSRF token their state changes must carry. */
export interface Caller {
  account: WebAccount;
  csrf: string;
  /** The session cookie's value (to rotate or revoke it). */
  token: string;
}

export const MIN_PASSWORD = 12;
const PIN = /^[0-9]{6,12}$/;

/** The audit actor of a web account: the logged-in person, never a name they typed. */
export function actorOf(account: WebAccount): AuditActor {
  return { type: 'user', id: account.id, role: account.role };
}

/**
 * Accounts, sessions and login throttling of the web app. Every rule is here; the routes only carry
 * requests to it. Login failures are counted per account name and per address in the database, so a
 * lockout survives a restart; an unknown name costs the same time as a wrong password.
 */
export class WebAuth {
  constructor(
    private readonly store: WebRepo,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly options: WebAuthOptions = DEFAULT_AUTH,
  ) {}

  /** No manager yet: the first one is made with the setup code. */
  setupNeeded(): boolean {
    return this.store.managers() === 0;
  }

  /** The setup code while no manager exists (made at the first call), else undefined. */
  setupCode(): string | undefined {
    if (!this.setupNeeded()) return undefined;
    const saved = this.store.setupCode();
    if (saved && !saved.used) return saved.code;
    const code = newSetupCode();
    this.store.saveSetupCode(code);
    return code;
  }

  /** The first manager, made with the one-time setup code; logs them in. */
  async setup(code: string, name: string, password: string, ip: string): Promise<Caller> {
    this.throttled(ip, 'setup');
    const saved = this.store.setupCode();
    const given = Buffer.from(code.replace(/[\s-]/g, ''));
    const want = Buffer.from((saved?.code ?? '').replace(/-/g, ''));
    const right = saved !== undefined && !saved.used && given.length === want.length && timingSafeEqual(given, want);
    if (!this.setupNeeded()) throw new WebError(409, 'this box already has a manager', { code: 'setup_done', hint: 'log in as a manager; a manager adds other accounts' });
    if (!right) {
      this.failed(ip, 'setup');
      throw new WebError(401, 'that setup code is not right', { code: 'bad_setup_code', hint: 'the code is printed when the daemon starts; `hindsight web setup-code` shows it again' });
    }
    this.checkPassword(password);
    const account = this.store.createAccount('manager', this.checkName(name), await hashSecret(password), 'setup-code');
    this.store.useSetupCode();
    this.audit.append({ actor: actorOf(account), action: 'web.account_created', objectIds: [account.id], detail: { role: 'manager', by: 'setup code' } });
    return this.startSession(account, ip);
  }

  /** Log in: a manager with a password, staff with a PIN. Throttled per name and per address. */
  async login(name: string, secret: string, ip: string): Promise<Caller> {
    const key = nameKey(name);
    this.throttled(ip, key);
    const found = this.store.accountForLogin(name);
    const ok = await verifySecret(secret, found?.secretHash);
    if (!ok || !found || found.disabled) {
      this.failed(ip, key);
      this.audit.append({ actor: { type: 'user', id: found?.id ?? 'unknown' }, action: 'web.login_failed', result: 'denied', detail: { ip, ...(found ? {} : { name: key.slice(0, 64) }) } });
      throw new WebError(401, found?.disabled ? 'this account is disabled' : 'wrong name or PIN/password', { code: 'bad_login', hint: 'check the name and try again; a manager can reset a PIN' });
    }
    this.store.clearFailures(`account:${key}`);
    return this.startSession(found, ip);
  }

  /** The caller of a session cookie, or undefined when it is unknown, revoked or timed out. */
  caller(token: string | undefined): Caller | undefined {
    if (!token || token.length > 100) return undefined;
    const idHash = tokenHash(token);
    const s = this.store.session(idHash);
    if (!s) return undefined;
    const now = this.clock.now();
    if (now - s.seenUtcMs > this.options.idleMs || now - s.createdUtcMs > this.options.absoluteMs) {
      this.store.revokeSession(idHash);
      return undefined;
    }
    const account = this.store.account(s.accountId);
    if (!account || account.disabled) return undefined;
    // one write a minute at most per session, not one per request
    if (now - s.seenUtcMs > 60_000) this.store.touchSession(idHash);
    return { account, csrf: s.csrf, token };
  }

  logout(caller: Caller): void {
    this.store.revokeSession(tokenHash(caller.token));
    this.audit.append({ actor: actorOf(caller.account), action: 'web.logout', objectIds: [caller.account.id] });
  }

  /** A staff account (name + PIN of 6-12 digits), made by a manager. */
  async addStaff(by: WebAccount, name: string, pin: string): Promise<WebAccount> {
    if (!PIN.test(pin)) throw new WebError(400, 'a PIN is 6 to 12 digits', { code: 'bad_pin' });
    const clean = this.checkName(name);
    if (this.store.accountForLogin(clean)) throw new WebError(409, `there is already an account named ${clean}`, { code: 'name_taken', hint: 'use another name, e.g. with a surname initial' });
    const account = this.store.createAccount('staff', clean, await hashSecret(pin), by.id);
    this.audit.append({ actor: actorOf(by), action: 'web.account_created', objectIds: [account.id], detail: { role: 'staff' } });
    return account;
  }

  /** A manager sets a new PIN for a staff member (who forgot it): their sessions end, their lock is lifted. */
  async resetPin(by: WebAccount, accountId: string, pin: string): Promise<WebAccount> {
    if (!PIN.test(pin)) throw new WebError(400, 'a PIN is 6 to 12 digits', { code: 'bad_pin' });
    const target = this.staffAccount(accountId);
    this.store.setSecret(target.id, await hashSecret(pin));
    this.store.revokeSessionsOf(target.id);
    this.store.clearFailures(`account:${nameKey(target.name)}`);
    this.audit.append({ actor: actorOf(by), action: 'web.pin_reset', objectIds: [target.id] });
    return this.store.account(target.id)!;
  }

  /** A manager turns a staff account off (its sessions end at once) or back on. */
  setDisabled(by: WebAccount, accountId: string, disabled: boolean): WebAccount {
    const target = this.staffAccount(accountId);
    this.store.setDisabled(target.id, disabled);
    if (disabled) this.store.revokeSessionsOf(target.id);
    this.audit.append({ actor: actorOf(by), action: disabled ? 'web.account_disabled' : 'web.account_enabled', objectIds: [target.id] });
    return this.store.account(target.id)!;
  }

  private staffAccount(id: string): WebAccount {
    const a = this.store.account(id);
    if (!a) throw new WebError(404, 'no such account', { code: 'not_found' });
    // managers are changed with the CLI on the box, never by another manager's browser
    if (a.role !== 'staff') throw new WebError(403, 'only staff accounts are changed here', { code: 'not_staff' });
    return a;
  }

  private async startSession(account: WebAccount, ip: string): Promise<Caller> {
    // a new id at every login (an id planted before login is never promoted)
    const token = newToken();
    const csrf = newToken();
    this.store.createSession(tokenHash(token), account.id, csrf, ip);
    this.store.pruneSessions(this.clock.now() - this.options.absoluteMs);
    this.audit.append({ actor: actorOf(account), action: 'web.login', objectIds: [account.id], detail: { ip } });
    return { account, csrf, token };
  }

  private checkName(name: string): string {
    const clean = name.normalize('NFKC').trim();
    if (clean.length < 1 || clean.length > 64 || /[\p{Cc}\p{Cf}]/u.test(clean)) throw new WebError(400, 'a name is 1 to 64 letters, digits or spaces', { code: 'bad_name' });
    return clean;
  }

  private checkPassword(password: string): void {
    if (password.length < MIN_PASSWORD) throw new WebError(400, `a manager password has at least ${MIN_PASSWORD} characters`, { code: 'weak_password', hint: 'a few unrelated words make a long password that is easy to remember' });
  }

  /** Refuse (429) while the name or the address is locked. */
  private throttled(ip: string, key: string): void {
    const now = this.clock.now();
    for (const k of [`account:${key}`, `ip:${ip}`]) {
      const f = this.store.failures(k);
      if (f && f.lockedUntilMs > now) {
        const retryAfterS = Math.ceil((f.lockedUntilMs - now) / 1000);
        throw new WebError(429, `too many failed logins: try again in ${Math.ceil(retryAfterS / 60)} min`, { code: 'locked', retryAfterS, hint: 'a manager can reset a forgotten PIN' });
      }
    }
  }

  private failed(ip: string, key: string): void {
    const now = this.clock.now();
    for (const [k, limit] of [[`account:${key}`, this.options.accountFailures], [`ip:${ip}`, this.options.ipFailures]] as const) {
      const f = this.store.failures(k);
      const fresh = !f || now - f.firstUtcMs > this.options.lockMs;
      const failures = fresh ? 1 : f.failures + 1;
      const locked = failures >= limit ? now + this.options.lockMs : 0;
      this.store.setFailures(k, failures, fresh ? now : f.firstUtcMs, locked);
      if (locked) this.log.warn({ service: 'web', key: k, failures }, 'login locked after repeated failures');
    }
  }
}

export type { WebRole };
