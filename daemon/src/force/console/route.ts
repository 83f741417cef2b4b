import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Caller } from '../../https/accounts.js';
import { serveAs, type AppRoute, type HttpsRoute } from '../../https/server.js';

/**
 * Who may call a console route. Deny by default: every route declares one, and the server refuses to
 * start with a route that does not (`public` must be said out loud). The roles nest: an admin may do what
 * a supervisor may, a supervisor what a reviewer may.
 */
export type ConsoleAccess = 'public' | ConsoleRole | 'metrics';
export type ConsoleRole = 'reviewer' | 'supervisor' | 'admin';

/** `metrics`: an admin, or a Prometheus scraper with the scrape token (https/metrics.ts). */
export const CONSOLE_ACCESS: readonly ConsoleAccess[] = ['public', 'reviewer', 'supervisor', 'admin', 'metrics'];
const RANK: Record<string, number> = { reviewer: 1, supervisor: 2, admin: 3 };

/** Whether an account of `role` may call a route of `access`. */
export function mayCall(role: string, access: ConsoleRole): boolean {
  return (RANK[role] ?? 0) >= RANK[access]!;
}

export interface ConsoleRequest<Body = unknown> {
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  body: Body;
  /** The logged-in account (always set on every route but `public` ones). */
  caller: Caller | undefined;
  ip: string;
  reply: FastifyReply;
}

export type ConsoleRoute = AppRoute<ConsoleAccess, ConsoleRequest<never>>;

/** Describe a route; the body's type comes from the caller (its schema checks it first). */
export function consoleRoute<Body = unknown>(route: Omit<ConsoleRoute, 'handler'> & { handler: (req: ConsoleRequest<Body>) => unknown }): ConsoleRoute {
  return route as ConsoleRoute;
}

/** A console route as the shared HTTPS server serves it; `callerOf` gives who the server's check found. */
export function toHttpsRoute(route: ConsoleRoute, callerOf: (req: FastifyRequest) => Caller | undefined): HttpsRoute {
  return serveAs(route, (req, reply) => ({
    params: req.params as Record<string, string>,
    query: req.query as Record<string, string | undefined>,
    body: req.body as never,
    caller: callerOf(req),
    ip: req.ip,
    reply,
  }));
}
