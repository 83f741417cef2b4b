import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { INSTALL_ROOT } from '../config/paths.js';
import { HindsightError, UsageError } from '../util/errors.js';
import { assertWellFormedText } from '../util/text.js';
import { describeValidation, type ValidationIssue } from '../util/validation-words.js';
import { WebError } from './error.js';
import type { WebCertificate } from './tls.js';

/**
 * The HTTPS server of a Hindsight web app (the box's staff page and manager console, the force's
 * workbench): strict JSON Schema validation (unknown fields and wrong types refused, never stripped or
 * coerced), a small body limit, security headers and a CSP without inline scripts on every answer, deny
 * by default (every route declares who may call it, or the server does not start), the app's own
 * `authorize` before any handler, the front end's files from memory by name, and the API as OpenAPI.
 */

export const SESSION_COOKIE = '__Host-hs_session';
export const CSRF_HEADER = 'x-csrf-token';
export const BODY_LIMIT = 16 * 1024;
export const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** What every web app's page loads beside its own files (daemon/web-shared: building elements, the API client). */
const SHARED_ASSETS = path.join(INSTALL_ROOT, 'daemon', 'web-shared');

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

/** A route as the server serves it: who may call it (one of the app's access levels) and its handler. */
export interface HttpsRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  access: string;
  summary: string;
  schema?: { params?: TSchema; querystring?: TSchema; body?: TSchema };
  status?: number;
  handler: (req: FastifyRequest, reply: FastifyReply) => unknown;
}

/**
 * A route as an app describes it: the same fields as an HttpsRoute, its handler given the request in the
 * app's own terms (who is logged in, which button...). `serveAs` turns it into what the server serves.
 */
export interface AppRoute<A extends string, R> extends Omit<HttpsRoute, 'access' | 'handler'> {
  access: A;
  handler: (req: R) => unknown;
}

/** An app's route as the server serves it, its request built by `request` from Fastify's. */
export function serveAs<A extends string, R>(route: AppRoute<A, R>, request: (req: FastifyRequest, reply: FastifyReply) => R): HttpsRoute {
  const { handler, ...rest } = route;
  return { ...rest, handler: (req, reply) => handler(request(req, reply)) };
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: string;
  }
}

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

/** A state change must come from the app's own page: a page elsewhere cannot make the browser post here. */
export function requireOwnOrigin(req: FastifyRequest, where: string): void {
  const host = req.headers.host;
  if (UNSAFE_METHODS.has(req.method) && (!host || req.headers.origin !== `https://${host}`)) {
    throw new WebError(403, `this request did not come from ${where}'s own page`, { code: 'bad_origin', hint: 'open the web app at its own address and try again' });
  }
}

/** A logged-in state change carries the session's CSRF token. */
export function requireCsrf(req: FastifyRequest, csrf: string): void {
  if (!UNSAFE_METHODS.has(req.method)) return;
  const token = req.headers[CSRF_HEADER];
  if (typeof token !== 'string' || token !== csrf) throw new WebError(403, 'this page is out of date: reload it and try again', { code: 'bad_csrf' });
}

export interface HttpsServerOptions {
  cert: WebCertificate;
  routes: readonly HttpsRoute[];
  log: Logger;
  /** The access levels routes may declare (`public` among them when the app has public routes). */
  access: readonly string[];
  /** Runs before every declared route: who calls, and whether they may (throws a WebError if not). */
  authorize: (req: FastifyRequest, access: string) => void | Promise<void>;
  /** The front end's files (index.html and its assets), read once. */
  assetsDir: string;
  /** The OpenAPI document's title. */
  apiTitle: string;
  /** What an unexpected failure says (who can see why in a log). */
  failureMessage: string;
  /** The log's service name. */
  service: string;
}

export function buildHttpsServer(o: HttpsServerOptions): FastifyInstance {
  const app = Fastify({
    logger: false,
    https: { cert: o.cert.cert, key: o.cert.key, minVersion: 'TLSv1.2' },
    bodyLimit: BODY_LIMIT,
    trustProxy: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true, useDefaults: false } },
  });

  // Deny by default: a route without a declared access fails the start, never serves.
  app.addHook('onRoute', (route) => {
    const access = route.config?.access;
    if (!access || !o.access.includes(access)) throw new Error(`web route ${String(route.method)} ${route.url} declares no access (${o.access.join(', ')})`);
  });

  app.addHook('onRequest', async (req, reply) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) reply.header(k, v);
    if (req.url.startsWith('/api/')) reply.header('cache-control', 'no-store');
    const access = req.routeOptions.config?.access;
    if (!access) return; // 404s: the not-found handler answers
    await o.authorize(req, access);
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
    if (e.validation) return reply.code(400).send({ error: 'bad_request', message: describeValidation(e.validation as ValidationIssue[]) });
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: 'too_large', message: `the request is larger than ${BODY_LIMIT / 1024} KB` });
    if (e.statusCode && e.statusCode < 500) return reply.code(e.statusCode).send({ error: 'bad_request', message: e.message });
    o.log.error({ service: o.service, err, url: req.url }, 'web request failed');
    return reply.code(500).send({ error: 'internal', message: o.failureMessage });
  });

  app.setNotFoundHandler((req, reply) => {
    return reply.code(404).send({ error: 'not_found', message: `nothing at ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}` });
  });

  // the front end: every file by its name, from memory: the app's own, and what every page shares
  const assets = new Map<string, { body: Buffer; type: string }>();
  for (const dir of [SHARED_ASSETS, o.assetsDir]) {
    for (const f of readdirSync(dir)) {
      const type = TYPES[path.extname(f)];
      if (type) assets.set(f, { body: readFileSync(path.join(dir, f)), type });
    }
  }
  const page = assets.get('index.html');
  const routes: HttpsRoute[] = [
    ...o.routes,
    {
      method: 'GET',
      url: '/',
      access: 'public',
      summary: 'The web app (one page; it asks the API who is logged in).',
      handler: (_req, reply) => reply.type(page!.type).send(page!.body),
    },
    {
      method: 'GET',
      url: '/assets/:file',
      access: 'public',
      summary: "The web app's scripts and styles.",
      handler: (req, reply) => {
        const file = (req.params as { file?: string }).file ?? '';
        const a = assets.get(file);
        if (!a || file === 'index.html') return reply.code(404).send({ error: 'not_found', message: 'no such file' });
        return reply.type(a.type).header('cache-control', 'no-cache').send(a.body);
      },
    },
    {
      method: 'GET',
      url: '/api/docs',
      access: 'public',
      summary: 'This API as an OpenAPI 3.1 document.',
      handler: () => openApi(routes, o.apiTitle),
    },
  ];
  for (const r of routes) {
    app.route({
      method: r.method,
      url: r.url,
      schema: r.schema ?? {},
      config: { access: r.access },
      handler: async (req, reply) => {
        const answer = await r.handler(req, reply);
        if (reply.sent) return reply;
        return r.status ? reply.code(r.status).send(answer) : answer;
      },
    });
  }
  return app;
}

/** An OpenAPI 3.1 document of the routes, with each route's access as `x-access`. */
function openApi(routes: readonly HttpsRoute[], title: string): unknown {
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
  return { openapi: '3.1.0', info: { title, version: '1' }, paths };
}
