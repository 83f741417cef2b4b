import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { INSTALL_ROOT } from '../config/paths.js';
import type { Button } from '../db/repos/buttons.js';
import { WebError } from '../https/error.js';
import { authorizeScrape, METRICS_ACCESS, type ScrapeToken } from '../https/metrics.js';
import { buildHttpsServer, cookieValue, requireCsrf, requireOwnOrigin, SESSION_COOKIE } from '../https/server.js';
import type { WebCertificate } from '../https/tls.js';
import type { WebAuth } from './auth.js';
import { toHttpsRoute, type Access, type WebRoute } from './route.js';

export { clearedSessionCookie, cookieValue, sessionCookie } from '../https/server.js';

/** The box's front end (daemon/web). */
const ASSET_DIR = path.join(INSTALL_ROOT, 'daemon', 'web');
const ACCESS: readonly Access[] = ['public', 'staff', 'manager', 'button', METRICS_ACCESS];

/**
 * The box's web app on the shared HTTPS server (https/server.ts): a hardware button by its bearer token
 * (no session, no cookie, so no CSRF), everyone else by the session cookie; every state change from the
 * page's own origin; staff or manager as the route declares; a logged-in state change with its CSRF token.
 * The metrics: a manager's session, or a Prometheus scraper with the scrape token.
 */
export function buildWebServer(options: { cert: WebCertificate; auth: WebAuth; routes: readonly WebRoute[]; log: Logger; button?: (token: string) => Button | undefined; scrape?: ScrapeToken }): FastifyInstance {
  return buildHttpsServer({
    cert: options.cert,
    routes: options.routes.map(toHttpsRoute),
    log: options.log,
    access: ACCESS,
    assetsDir: ASSET_DIR,
    apiTitle: 'Hindsight box web API',
    failureMessage: 'the box could not do that; a manager can see why in its log',
    service: 'web',
    authorize: (req, access) => {
      if (access === 'button') {
        const token = /^Bearer ([A-Za-z0-9_-]{1,200})$/.exec(String(req.headers.authorization ?? ''))?.[1];
        req.button = token ? options.button?.(token) : undefined;
        if (!req.button) throw new WebError(401, 'unknown or disabled button token', { code: 'bad_button_token', hint: 'a manager makes a button (and its token) in the web app' });
        return;
      }
      req.caller = options.auth.caller(cookieValue(req.headers.cookie, SESSION_COOKIE));
      if (access === METRICS_ACCESS) {
        authorizeScrape(req, { token: options.scrape ?? {}, key: 'web.metrics_token_file', loggedIn: req.caller !== undefined, mayScrape: req.caller?.account.role === 'manager', role: 'a store manager' });
        return;
      }
      requireOwnOrigin(req, "this box");
      if (access === 'public') return;
      if (!req.caller) throw new WebError(401, 'please log in', { code: 'not_logged_in' });
      if (access === 'manager' && req.caller.account.role !== 'manager') throw new WebError(403, 'only a store manager can do that', { code: 'manager_only' });
      requireCsrf(req, req.caller.csrf);
    },
  });
}
