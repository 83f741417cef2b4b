import type { Logger } from 'pino';
import type { AuditLog } from '../audit/log.js';
import type { Clock } from '../util/clock.js';
import { WebError } from '../https/error.js';
import { Accounts, DEFAULT_ACCOUNTS, type AccountsOptions } from '../https/accounts.js';
import type { WebAccount, WebRepo } from '../db/repos/web.js';

export { actorOf, type Caller } from '../https/accounts.js';

const PIN = /^[0-9]{6,12}$/;

/**
 * The box's accounts: the shared sessions, login and lockout (https/accounts.ts) with the box's roles, a
 * manager (the first one made from the setup code; a password) and staff (a PIN that a manager gives and
 * resets).
 */
export class WebAuth extends Accounts {
  constructor(store: WebRepo, audit: AuditLog, clock: Clock, log: Logger, options: AccountsOptions = DEFAULT_ACCOUNTS) {
    super(
      store,
      audit,
      clock,
      log,
      {
        firstRole: 'manager',
        alreadySetUp: 'this box already has a manager',
        setupCodeHint: 'the code is printed when the daemon starts; `hindsight web setup-code` shows it again',
        wrongLogin: 'wrong name or PIN/password',
        loginHint: 'check the name and try again; a manager can reset a PIN',
        lockedHint: 'a manager can reset a forgotten PIN',
      },
      options,
    );
  }

  /** A staff account (name + PIN of 6-12 digits), made by a manager. */
  async addStaff(by: WebAccount, name: string, pin: string): Promise<WebAccount> {
    if (!PIN.test(pin)) throw new WebError(400, 'a PIN is 6 to 12 digits', { code: 'bad_pin' });
    return this.createAccount(by, 'staff', name, pin);
  }

  /** A manager sets a new PIN for a staff member (who forgot it): their sessions end, their lock is lifted. */
  async resetPin(by: WebAccount, accountId: string, pin: string): Promise<WebAccount> {
    if (!PIN.test(pin)) throw new WebError(400, 'a PIN is 6 to 12 digits', { code: 'bad_pin' });
    return this.replaceSecret(by, this.staffAccount(accountId), pin, 'web.pin_reset');
  }

  /** A manager turns a staff account off (its sessions end at once) or back on. */
  setDisabled(by: WebAccount, accountId: string, disabled: boolean): WebAccount {
    return this.switchAccount(by, this.staffAccount(accountId), disabled);
  }

  private staffAccount(id: string): WebAccount {
    const a = this.accountOf(id);
    // managers are changed with the CLI on the box, never by another manager's browser
    if (a.role !== 'staff') throw new WebError(403, 'only staff accounts are changed here', { code: 'not_staff' });
    return a;
  }
}
