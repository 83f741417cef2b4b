import type { FastifyReply, FastifyRequest } from 'fastify';
import { serveAs, type AppRoute, type HttpsRoute } from '../https/server.js';
import type { Button } from '../db/repos/buttons.js';
import type { Caller } from './auth.js';

/**
 * Who may call a route. Deny by default: every route of the web app declares one, and the server refuses
 * to start with a route that does not (`public` must be said out loud). `button`: a hardware button with
 * its own bearer token (no session, no cookie, so no CSRF to check). `metrics`: a manager, or a Prometheus
 * scraper with the scrape token (https/metrics.ts).
 */
export type Access = 'public' | 'staff' | 'manager' | 'button' | 'metrics';

export interface WebRequest<Body = unknown> {
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  body: Body;
  /** The logged-in account (always set on `staff` and `manager` routes). */
  caller: Caller | undefined;
  /** The button whose token came with the request (always set on `button` routes). */
  button: Button | undefined;
  ip: string;
  raw: FastifyRequest;
  reply: FastifyReply;
}

export type WebRoute = AppRoute<Access, WebRequest<never>>;

/** Describe a route; the body's type comes from the caller (its schema checks it first). */
export function webRoute<Body = unknown>(route: Omit<WebRoute, 'handler'> & { handler: (req: WebRequest<Body>) => unknown }): WebRoute {
  return route as WebRoute;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
    button?: Button;
  }
}

/** A box route as the shared HTTPS server serves it: its handler given the request in the box's terms. */
export function toHttpsRoute(route: WebRoute): HttpsRoute {
  return serveAs(route, (req, reply) => ({
    params: req.params as Record<string, string>,
    query: req.query as Record<string, string | undefined>,
    body: req.body as never,
    caller: req.caller,
    button: req.button,
    ip: req.ip,
    raw: req,
    reply,
  }));
}
