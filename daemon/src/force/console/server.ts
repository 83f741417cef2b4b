import path from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { INSTALL_ROOT } from '../../config/paths.js';
import type { Accounts, Caller } from '../../https/accounts.js';
import { WebError } from '../../https/error.js';
import { authorizeScrape, METRICS_ACCESS } from '../../https/metrics.js';
import { buildHttpsServer, cookieValue, requireCsrf, requireOwnOrigin, SESSION_COOKIE } from '../../https/server.js';
import type { WebCertificate } from '../../https/tls.js';
import { CONSOLE_ACCESS, mayCall, toHttpsRoute, type ConsoleRole, type ConsoleRoute } from './route.js';

/** The console's front end (daemon/force-web). */
const ASSET_DIR = path.join(INSTALL_ROOT, 'daemon', 'force-web');

const NOT_ALLOWED: Record<ConsoleRole, string> = {
  reviewer: 'only a reviewer can do that',
  supervisor: 'only a supervisor (an officer who triages incidents) can do that',
  admin: 'only an admin can do that',
};

/**
 * The reviewers' console on the shared HTTPS server (https/server.ts): who calls by the session cookie,
 * every state change from the console's own page, the route's role or a higher one, and a logged-in state
 * change with its session's CSRF token. The same rules as the box's web app. The metrics: an admin's
 * session, or a Prometheus scraper with the scrape token.
 */
export function buildConsoleServer(options: { cert: WebCertificate; accounts: Accounts; routes: readonly ConsoleRoute[]; log: Logger; scrapeToken?: string }): FastifyInstance {
  const callers = new WeakMap<FastifyRequest, Caller>();
  return buildHttpsServer({
    cert: options.cert,
    routes: options.routes.map((r) => toHttpsRoute(r, (req) => callers.get(req))),
    log: options.log,
    access: CONSOLE_ACCESS,
    assetsDir: ASSET_DIR,
    apiTitle: "Hindsight force reviewers' console API",
    failureMessage: 'the console could not do that; the force operator can see why in its log',
    service: 'console',
    authorize: (req, access) => {
      const caller = options.accounts.caller(cookieValue(req.headers.cookie, SESSION_COOKIE));
      if (caller) callers.set(req, caller);
      if (access === METRICS_ACCESS) {
        authorizeScrape(req, { token: { token: options.scrapeToken }, key: 'console.metrics_token_file', loggedIn: caller !== undefined, mayScrape: caller !== undefined && mayCall(caller.account.role, 'admin'), role: 'an admin' });
        return;
      }
      requireOwnOrigin(req, 'the console');
      if (access === 'public') return;
      if (!caller) throw new WebError(401, 'please log in', { code: 'not_logged_in' });
      const role = access as ConsoleRole;
      if (!mayCall(caller.account.role, role)) throw new WebError(403, NOT_ALLOWED[role], { code: `${role}_only` });
      requireCsrf(req, caller.csrf);
    },
  });
}
