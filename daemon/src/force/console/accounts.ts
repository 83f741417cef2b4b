import type { Logger } from 'pino';
import type { AuditLog } from '../../audit/log.js';
import type { WebAccount, WebRepo } from '../../db/repos/web.js';
import { Accounts, type AccountsOptions } from '../../https/accounts.js';
import { WebError } from '../../https/error.js';
import type { Clock } from '../../util/clock.js';

/** The roles an admin gives from the console (admins come from the setup code). */
export const GIVEN_ROLES = ['reviewer', 'supervisor'] as const;
export type GivenRole = (typeof GIVEN_ROLES)[number];

/**
 * The console's accounts: the shared sessions, login and lockout (https/accounts.ts), the first admin made
 * from the setup code, and reviewers and supervisors an admin adds, each with their own password.
 */
export class ConsoleAccounts extends Accounts {
  constructor(store: WebRepo, audit: AuditLog, clock: Clock, log: Logger, options: AccountsOptions) {
    super(
      store,
      audit,
      clock,
      log,
      {
        firstRole: 'admin',
        alreadySetUp: 'the console already has an admin',
        setupCodeHint: 'the code is printed when the console starts; `hindsight-force console setup-code` shows it again',
        wrongLogin: 'wrong name or password',
        loginHint: 'check the name and try again; an admin can turn an account off and add a new one',
        lockedHint: 'wait, or ask an admin',
      },
      options,
    );
  }

  /** A reviewer or supervisor account, made by an admin. */
  async addAccount(by: WebAccount, role: GivenRole, name: string, password: string): Promise<WebAccount> {
    if (!GIVEN_ROLES.includes(role)) throw new WebError(400, 'an admin adds reviewers and supervisors', { code: 'bad_role' });
    this.checkPassword(password);
    return this.createAccount(by, role, name, password);
  }

  /** An admin turns a reviewer's or supervisor's account off (its sessions end at once) or back on. */
  setDisabled(by: WebAccount, accountId: string, disabled: boolean): WebAccount {
    const target = this.accountOf(accountId);
    // admins are not turned off from a browser: no admin can lock the others (or the last one) out
    if (target.role === 'admin') throw new WebError(403, 'admin accounts are not turned off from the console', { code: 'not_changeable' });
    return this.switchAccount(by, target, disabled);
  }
}
