import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { INSTALL_ROOT } from '../config/paths.js';
import { describeValidation } from '../control/server.js';
import { HindsightError, UsageError } from '../util/errors.js';
import { assertWellFormedText } from '../util/text.js';
import { WebError, type WebAuth } from './auth.js';
import type { Button } from '../db/repos/buttons.js';
import { serveWebRoute, type WebRoute } from './route.js';
import type { WebCertificate } from './tls.js';

export const SESSION_COOKIE = '__Host-hs_session';
const CSRF_HEADER = 'x-csrf-token';
const BODY_LIMIT = 16 * 1024;
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The front end's files (daemon/web): served from memory, by name only, no listing. */
const ASSET_DIR = path.join(INSTALL_ROOT, 'daemon', 'web');
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.json': 'application/json' };

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'strict-transport-security': 'max-age=31536000',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
};

/** The value of one cookie of a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function sessionCookie(token: string, maxAgeS: number): string {
  return `${SESSION_COOKIE}=${token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}`;
}

export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0`;
}

/**
 * The web app's HTTPS server: strict JSON Schema validation (unknown fields and wrong types refused, never
 * stripped or coerced), a small body limit, security headers and a CSP without inline scripts on every
 * answer, the session cookie read before anything else, the role each route declares checked, and on
 * every state change the Origin and the session's CSRF token.
 */
export function buildWebServer(options: { cert: WebCertificate; auth: WebAuth; routes: readonly WebRoute[]; log: Logger; button?: (token: string) => Button | undefined }): FastifyInstance {
  const { auth, log } = options;
  const app = Fastify({
    logger: false,
    https: { cert: options.cert.cert, key: options.cert.key, minVersion: 'TLSv1.2' },
    bodyLimit: BODY_LIMIT,
    trustProxy: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true, useDefaults: false } },
  });

  // Deny by default: a route without a declared access fails the start, never serves.
  app.addHook('onRoute', (route) => {
    if (!route.config?.access) throw new Error(`web route ${String(route.method)} ${route.url} declares no access (public, staff or manager)`);
  });

  app.addHook('onRequest', async (req, reply) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) reply.header(k, v);
    if (req.url.startsWith('/api/')) reply.header('cache-control', 'no-store');
    const access = req.routeOptions.config?.access;
    if (!access) return; // 404s: the not-found handler answers
    if (access === 'button') {
      const token = /^Bearer ([A-Za-z0-9_-]{1,200})$/.exec(String(req.headers.authorization ?? ''))?.[1];
      req.button = token ? options.button?.(token) : undefined;
      if (!req.button) throw new WebError(401, 'unknown or disabled button token', { code: 'bad_button_token', hint: 'a manager makes a button (and its token) in the web app' });
      return;
    }
    req.caller = auth.caller(cookieValue(req.headers.cookie, SESSION_COOKIE));
    if (UNSAFE_METHODS.has(req.method)) {
      // the page's own origin only: a page elsewhere cannot make the browser post here
      const host = req.headers.host;
      if (!host || req.headers.origin !== `https://${host}`) throw new WebError(403, 'this request did not come from this box\'s own page', { code: 'bad_origin', hint: 'open the web app at its own address and try again' });
    }
    if (access === 'public') return;
    if (!req.caller) throw new WebError(401, 'please log in', { code: 'not_logged_in' });
    if (access === 'manager' && req.caller.account.role !== 'manager') throw new WebError(403, 'only a store manager can do that', { code: 'manager_only' });
    if (UNSAFE_METHODS.has(req.method)) {
      const token = req.headers[CSRF_HEADER];
      if (typeof token !== 'string' || token !== req.caller.csrf) throw new WebError(403, 'this page is out of date: reload it and try again', { code: 'bad_csrf' });
    }
  });

  app.addHook('preValidation', async (req) => {
    assertWellFormedText(req.body, 'the request');
    assertWellFormedText({ params: req.params, query: req.query }, 'the request');
  });

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof WebError) {
      if (err.retryAfterS) reply.header('retry-after', String(err.retryAfterS));
      return reply.code(err.status).send({ error: err.code, message: err.message, hint: err.hint });
    }
    if (err instanceof HindsightError) {
      // a refusal of bad input is 400, of a valid request 409, unless the error says its own
      const status = (err as HindsightError & { status?: number }).status ?? (err instanceof UsageError ? 400 : 409);
      return reply.code(status).send({ error: err.code, message: err.message, hint: err.hint });
    }
    const e = err as { validation?: unknown; statusCode?: number; code?: string; message: string };
    if (e.validation) return reply.code(400).send({ error: 'bad_request', message: describeValidation(e.validation as Parameters<typeof describeValidation>[0]) });
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: 'too_large', message: `the request is larger than ${BODY_LIMIT / 1024} KB` });
    if (e.statusCode && e.statusCode < 500) return reply.code(e.statusCode).send({ error: 'bad_request', message: e.message });
    log.error({ service: 'web', err, url: req.url }, 'web request failed');
    return reply.code(500).send({ error: 'internal', message: 'the box could not do that; a manager can see why in its log' });
  });

  app.setNotFoundHandler((req, reply) => {
    return reply.code(404).send({ error: 'not_found', message: `nothing at ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}` });
  });

  // the front end: every file by its name, from memory
  const assets = new Map<string, { body: Buffer; type: string }>();
  for (const f of readdirSync(ASSET_DIR)) {
    const type = TYPES[path.extname(f)];
    if (type) assets.set(f, { body: readFileSync(path.join(ASSET_DIR, f)), type });
  }
  const page = assets.get('index.html');
  const routes: WebRoute[] = [
    ...options.routes,
    {
      method: 'GET',
      url: '/',
      access: 'public',
      summary: 'The web app (one page; it asks the API who is logged in).',
      handler: ({ reply }) => reply.type(page!.type).send(page!.body),
    },
    {
      method: 'GET',
      url: '/assets/:file',
      access: 'public',
      summary: "The web app's scripts and styles.",
      handler: ({ params, reply }) => {
        const a = assets.get(params.file ?? '');
        if (!a || params.file === 'index.html') return reply.code(404).send({ error: 'not_found', message: 'no such file' });
        return reply.type(a.type).header('cache-control', 'no-cache').send(a.body);
      },
    },
    {
      method: 'GET',
      url: '/api/docs',
      access: 'public',
      summary: 'This API as an OpenAPI 3.1 document.',
      handler: () => openApi(routes),
    },
  ];
  for (const r of routes) serveWebRoute(app, r);
  return app;
}

/** An OpenAPI 3.1 document of the routes, with each route's access as `x-access`. */
function openApi(routes: readonly WebRoute[]): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const p = r.url.replace(/:([A-Za-z_]+)/g, '{$1}');
    const params = r.schema?.params as { properties?: Record<string, unknown> } | undefined;
    paths[p] ??= {};
    paths[p][r.method.toLowerCase()] = {
      summary: r.summary,
      'x-access': r.access,
      ...(params?.properties ? { parameters: Object.entries(params.properties).map(([name, schema]) => ({ name, in: 'path', required: true, schema })) } : {}),
      ...(r.schema?.body ? { requestBody: { required: true, content: { 'application/json': { schema: r.schema.body } } } } : {}),
      responses: { [String(r.status ?? 200)]: { description: 'done' }, '400': { description: 'bad input' }, '401': { description: 'not logged in' }, '403': { description: 'not allowed' } },
    };
  }
  return { openapi: '3.1.0', info: { title: 'Hindsight box web API', version: '1' }, paths };
}
