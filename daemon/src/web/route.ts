import type { TSchema } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { HttpsRoute } from '../https/server.js';
import type { Button } from '../db/repos/buttons.js';
import type { Caller } from './auth.js';

/**
 * Who may call a route. Deny by default: every route of the web app declares one, and the server refuses
 * to start with a route that does not (`public` must be said out loud). `button`: a hardware button with
 * its own bearer token (no session, no cookie, so no CSRF to check).
 */
export type Access = 'public' | 'staff' | 'manager' | 'button';

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

export interface WebRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  access: Access;
  summary: string;
  schema?: { params?: TSchema; querystring?: TSchema; body?: TSchema };
  status?: number;
  handler: (req: WebRequest<never>) => unknown;
}

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
  return {
    method: route.method,
    url: route.url,
    access: route.access,
    summary: route.summary,
    schema: route.schema,
    status: route.status,
    handler: (req, reply) =>
      route.handler({
        params: req.params as Record<string, string>,
        query: req.query as Record<string, string | undefined>,
        body: req.body as never,
        caller: req.caller,
        button: req.button,
        ip: req.ip,
        raw: req,
        reply,
      }),
  };
}
