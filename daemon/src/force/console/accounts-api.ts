import { Type } from '@sinclair/typebox';
import type { WebRepo } from '../../db/repos/web.js';
import type { Caller } from '../../https/accounts.js';
import { clearedSessionCookie, sessionCookie } from '../../https/server.js';
import { isoUtc } from '../../util/clock.js';
import { GIVEN_ROLES, type ConsoleAccounts, type GivenRole } from './accounts.js';
import { consoleRoute, type ConsoleRoute } from './route.js';
import { closed, Id, Name } from './schemas.js';

const Password = Type.String({ minLength: 1, maxLength: 256 });

/** Logging in and out, the first admin, and the accounts an admin keeps. */
export function accountsApi(d: { accounts: ConsoleAccounts; store: WebRepo; sessionMaxS: number }): ConsoleRoute[] {
  const loggedIn = (caller: Caller, reply: { header(k: string, v: string): unknown }): unknown => {
    reply.header('set-cookie', sessionCookie(caller.token, d.sessionMaxS));
    return { account: { name: caller.account.name, role: caller.account.role }, csrf: caller.csrf };
  };
  return [
    consoleRoute({
      method: 'GET',
      url: '/api/v1/session',
      access: 'public',
      summary: 'Who is logged in (and the CSRF token of their session), and whether the console still needs its first admin.',
      handler: ({ caller }) => ({
        setup_needed: d.accounts.setupNeeded(),
        account: caller ? { name: caller.account.name, role: caller.account.role } : null,
        csrf: caller?.csrf ?? null,
      }),
    }),
    consoleRoute<{ code: string; name: string; password: string }>({
      method: 'POST',
      url: '/api/v1/setup',
      access: 'public',
      summary: 'Make the first admin with the one-time setup code (printed by `hindsight-force console`; `console setup-code` shows it again).',
      schema: { body: Type.Object({ code: Type.String({ minLength: 1, maxLength: 32 }), name: Name, password: Password }, closed) },
      status: 201,
      handler: async ({ body, ip, reply }) => loggedIn(await d.accounts.setup(body.code, body.name, body.password, ip), reply),
    }),
    consoleRoute<{ name: string; password: string }>({
      method: 'POST',
      url: '/api/v1/login',
      access: 'public',
      summary: 'Log in with a name and password (five wrong passwords for a name lock it for 15 minutes).',
      schema: { body: Type.Object({ name: Name, password: Password }, closed) },
      handler: async ({ body, ip, reply }) => loggedIn(await d.accounts.login(body.name, body.password, ip), reply),
    }),
    consoleRoute({
      method: 'POST',
      url: '/api/v1/logout',
      access: 'reviewer',
      summary: 'Log out (the session ends on the server, not only in this browser).',
      handler: ({ caller, reply }) => {
        d.accounts.logout(caller!);
        reply.header('set-cookie', clearedSessionCookie());
        return { ok: true };
      },
    }),
    consoleRoute({
      method: 'GET',
      url: '/api/v1/accounts',
      access: 'admin',
      summary: "The console's accounts (names and roles; never passwords).",
      handler: () => ({ accounts: d.store.accounts().map((a) => ({ id: a.id, name: a.name, role: a.role, created: isoUtc(a.createdUtcMs), disabled: a.disabled })) }),
    }),
    consoleRoute<{ name: string; role: GivenRole; password: string }>({
      method: 'POST',
      url: '/api/v1/accounts',
      access: 'admin',
      summary: 'Add a reviewer or a supervisor: a name, the role and a password of at least 12 characters.',
      status: 201,
      schema: { body: Type.Object({ name: Name, role: Type.Unsafe<GivenRole>({ type: 'string', enum: [...GIVEN_ROLES] }), password: Password }, closed) },
      handler: async ({ caller, body }) => {
        const a = await d.accounts.addAccount(caller!.account, body.role, body.name, body.password);
        return { account: { id: a.id, name: a.name, role: a.role, disabled: a.disabled } };
      },
    }),
    consoleRoute<{ disabled: boolean }>({
      method: 'POST',
      url: '/api/v1/accounts/:id',
      access: 'admin',
      summary: "Turn a reviewer's or supervisor's account off (logged out at once) or back on.",
      schema: { params: Type.Object({ id: Id }, closed), body: Type.Object({ disabled: Type.Boolean() }, closed) },
      handler: ({ caller, params, body }) => {
        const a = d.accounts.setDisabled(caller!.account, params.id!, body.disabled);
        return { account: { id: a.id, name: a.name, role: a.role, disabled: a.disabled } };
      },
    }),
  ];
}
