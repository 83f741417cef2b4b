import { timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuditActor, AuditLog } from '../audit/log.js';
import { nameKey, type WebAccount, type WebRepo } from '../db/repos/web.js';
import type { Clock } from '../util/clock.js';
import { WebError } from './error.js';
import { hashSecret, newSetupCode, newToken, tokenHash, verifySecret } from './secrets.js';

export interface AccountsOptions {
  /** A session unused this long ends. */
  idleMs: number;
  /** A session ends this long after login, used or not. */
  absoluteMs: number;
  /** Failed logins of one account name before it is locked. */
  accountFailures: number;
  /** Failed logins from one address before it is locked (several people share a shop's or a station's address). */
  ipFailures: number;
  /** How long a lock lasts, and the window failures are counted in. */
  lockMs: number;
}

export const DEFAULT_ACCOUNTS: AccountsOptions = { idleMs: 30 * 60_000, absoluteMs: 12 * 3600_000, accountFailures: 5, ipFailures: 20, lockMs: 15 * 60_000 };

/** What differs between the apps: the first account's role and the words of their answers. */
export interface AccountsApp {
  /** The role of the first account, made with the one-time setup code (it adds the others). */
  firstRole: string;
  /** "this box already has a manager" */
  alreadySetUp: string;
  /** Where the setup code is shown again. */
  setupCodeHint: string;
  /** "wrong name or password" */
  wrongLogin: string;
  /** What to do after a wrong login or a lock. */
  loginHint: string;
  lockedHint: string;
}

/** A logged-in request: who, and the CSRF token their state changes must carry. */
export interface Caller {
  account: WebAccount;
  csrf: string;
  /** The session cookie's value (to rotate or revoke it). */
  token: string;
}

export const MIN_PASSWORD = 12;

/** The audit actor of a web account: the logged-in person, never a name they typed. */
export function actorOf(account: WebAccount): AuditActor {
  return { type: 'user', id: account.id, role: account.role };
}

/**
 * Accounts, sessions and login throttling of a web app (the box's, the force's console). Every rule is
 * here; the routes only carry requests to it. Login failures are counted per account name and per address
 * in the database, so a lockout survives a restart; an unknown name costs the same time as a wrong
 * secret; a session id is new at every login and lives in the database (revocable), with idle and
 * absolute timeouts.
 */
export class Accounts {
  constructor(
    private readonly store: WebRepo,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly app: AccountsApp,
    private readonly options: AccountsOptions = DEFAULT_ACCOUNTS,
  ) {}

  /** No account of the first role yet: the first one is made with the setup code. */
  setupNeeded(): boolean {
    return this.store.activeAccounts(this.app.firstRole) === 0;
  }

  /** The setup code while the first account is missing (made at the first call), else undefined. */
  setupCode(): string | undefined {
    if (!this.setupNeeded()) return undefined;
    const saved = this.store.setupCode();
    if (saved && !saved.used) return saved.code;
    const code = newSetupCode();
    this.store.saveSetupCode(code);
    return code;
  }

  /** The first account, made with the one-time setup code; logs them in. */
  async setup(code: string, name: string, password: string, ip: string): Promise<Caller> {
    this.throttled(ip, 'setup');
    const saved = this.store.setupCode();
    const given = Buffer.from(code.replace(/[\s-]/g, ''));
    const want = Buffer.from((saved?.code ?? '').replace(/-/g, ''));
    const right = saved !== undefined && !saved.used && given.length === want.length && timingSafeEqual(given, want);
    if (!this.setupNeeded()) throw new WebError(409, this.app.alreadySetUp, { code: 'setup_done', hint: `log in as ${article(this.app.firstRole)}; ${article(this.app.firstRole)} adds other accounts` });
    if (!right) {
      this.failed(ip, 'setup');
      throw new WebError(401, 'that setup code is not right', { code: 'bad_setup_code', hint: this.app.setupCodeHint });
    }
    this.checkPassword(password);
    const account = this.store.createAccount(this.app.firstRole, this.checkName(name), await hashSecret(password), 'setup-code');
    this.store.useSetupCode();
    this.audit.append({ actor: actorOf(account), action: 'web.account_created', objectIds: [account.id], detail: { role: this.app.firstRole, by: 'setup code' } });
    return this.startSession(account, ip);
  }

  /** Log in with a name and a secret (password or PIN). Throttled per name and per address. */
  async login(name: string, secret: string, ip: string): Promise<Caller> {
    const key = nameKey(name);
    this.throttled(ip, key);
    const found = this.store.accountForLogin(name);
    const ok = await verifySecret(secret, found?.secretHash);
    if (!ok || !found || found.disabled) {
      this.failed(ip, key);
      this.audit.append({ actor: { type: 'user', id: found?.id ?? 'unknown' }, action: 'web.login_failed', result: 'denied', detail: { ip, ...(found ? {} : { name: key.slice(0, 64) }) } });
      throw new WebError(401, found?.disabled ? 'this account is disabled' : this.app.wrongLogin, { code: 'bad_login', hint: this.app.loginHint });
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

  /** A new account of `role`, made by a logged-in account (the secret is checked by the caller's rules first). */
  async createAccount(by: WebAccount, role: string, name: string, secret: string): Promise<WebAccount> {
    const clean = this.checkName(name);
    if (this.store.accountForLogin(clean)) throw new WebError(409, `there is already an account named ${clean}`, { code: 'name_taken', hint: 'use another name, e.g. with a surname initial' });
    const account = this.store.createAccount(role, clean, await hashSecret(secret), by.id);
    this.audit.append({ actor: actorOf(by), action: 'web.account_created', objectIds: [account.id], detail: { role } });
    return account;
  }

  /** A new secret for someone who forgot theirs: their sessions end and their lock is lifted. */
  async replaceSecret(by: WebAccount, target: WebAccount, secret: string, action: string): Promise<WebAccount> {
    this.store.setSecret(target.id, await hashSecret(secret));
    this.store.revokeSessionsOf(target.id);
    this.store.clearFailures(`account:${nameKey(target.name)}`);
    this.audit.append({ actor: actorOf(by), action, objectIds: [target.id] });
    return this.store.account(target.id)!;
  }

  /** Turn an account off (its sessions end at once) or back on. */
  switchAccount(by: WebAccount, target: WebAccount, disabled: boolean): WebAccount {
    this.store.setDisabled(target.id, disabled);
    if (disabled) this.store.revokeSessionsOf(target.id);
    this.audit.append({ actor: actorOf(by), action: disabled ? 'web.account_disabled' : 'web.account_enabled', objectIds: [target.id] });
    return this.store.account(target.id)!;
  }

  /** The account of an id, or a 404. */
  accountOf(id: string): WebAccount {
    const a = this.store.account(id);
    if (!a) throw new WebError(404, 'no such account', { code: 'not_found' });
    return a;
  }

  checkPassword(password: string): void {
    if (password.length < MIN_PASSWORD) throw new WebError(400, `a password has at least ${MIN_PASSWORD} characters`, { code: 'weak_password', hint: 'a few unrelated words make a long password that is easy to remember' });
  }

  private checkName(name: string): string {
    const clean = name.normalize('NFKC').trim();
    if (clean.length < 1 || clean.length > 64 || /[\p{Cc}\p{Cf}]/u.test(clean)) throw new WebError(400, 'a name is 1 to 64 letters, digits or spaces', { code: 'bad_name' });
    return clean;
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

  /** Refuse (429) while the name or the address is locked. */
  private throttled(ip: string, key: string): void {
    const now = this.clock.now();
    for (const k of [`account:${key}`, `ip:${ip}`]) {
      const f = this.store.failures(k);
      if (f && f.lockedUntilMs > now) {
        const retryAfterS = Math.ceil((f.lockedUntilMs - now) / 1000);
        throw new WebError(429, `too many failed logins: try again in ${Math.ceil(retryAfterS / 60)} min`, { code: 'locked', retryAfterS, hint: this.app.lockedHint });
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

const article = (role: string): string => `${/^[aeiou]/i.test(role) ? 'an' : 'a'} ${role}`;
