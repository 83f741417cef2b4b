import type { Static, TObject, TSchema } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { callerOf, type CliActor } from './peer.js';

/** What a call of a route carries; a route's request type is the part of this its schemas describe. */
export interface RouteRequest {
  params?: Record<string, string>;
  query?: Record<string, string | undefined>;
  body?: unknown;
}

/**
 * One control API route, described once: method, path, the JSON Schemas of its request (which give the
 * request's type) and the type of its answer. The daemon registers its handler from this (Fastify checks
 * each request against the schemas) and the CLI calls it through the same object (`callRoute`), so the
 * two cannot drift apart.
 */
export interface ControlRoute<Req extends RouteRequest, Res> {
  readonly method: 'GET' | 'POST';
  /** Fastify's form: `:name` marks a path parameter (`/v1/incidents/:id`). */
  readonly path: string;
  readonly schema: { params?: TSchema; querystring?: TSchema; body?: TSchema };
  /** The success status when it is not 200 (201 for something created). */
  readonly status?: number;
  /** Carries the request's and the answer's types only; never set. */
  readonly types?: { request: Req; response: Res };
}

type Part<S> = S extends TSchema ? Static<S> : undefined;
type Defined<T> = { [K in keyof T as T[K] extends undefined ? never : K]: T[K] };

/** Describe a route answering `Res`: `controlRoute<{ incident: IncidentView }>()({ method, path, params, body })`. */
export function controlRoute<Res>() {
  return <P extends TObject | undefined = undefined, Q extends TObject | undefined = undefined, B extends TSchema | undefined = undefined>(route: {
    method: 'GET' | 'POST';
    path: string;
    params?: P;
    query?: Q;
    body?: B;
    status?: number;
  }): ControlRoute<Defined<{ params: Part<P>; query: Part<Q>; body: Part<B> }>, Res> => ({
    method: route.method,
    path: route.path,
    schema: { ...(route.params ? { params: route.params } : {}), ...(route.query ? { querystring: route.query } : {}), ...(route.body ? { body: route.body } : {}) },
    ...(route.status ? { status: route.status } : {}),
  });
}

/** The URL of a call: path parameters filled in (URL-encoded), then the query's given values in order. */
export function routeUrl(route: ControlRoute<RouteRequest, unknown>, call: RouteRequest): string {
  const pathname = route.path.replace(/:([A-Za-z_]+)/g, (_, name: string) => {
    const value = call.params?.[name];
    if (value === undefined) throw new Error(`${route.path}: no value for :${name}`);
    return encodeURIComponent(value);
  });
  const query = Object.entries(call.query ?? {}).filter((e): e is [string, string] => e[1] !== undefined);
  return query.length ? `${pathname}?${new URLSearchParams(query).toString()}` : pathname;
}

/**
 * Register a route's handler on the control server; Fastify validates the request against its schemas
 * first. The handler is given the caller's proven user (`caller`) for its audit rows.
 */
export function serveRoute<Req extends RouteRequest, Res>(app: FastifyInstance, route: ControlRoute<Req, Res>, handler: (req: Req, caller: CliActor) => Promise<Res> | Res): void {
  app.route({
    method: route.method,
    url: route.path,
    schema: route.schema,
    handler: async (req, reply) => {
      // Each part has been checked against the route's schema (unknown fields and wrong types refused).
      const answer = await handler({ params: req.params, query: req.query, body: req.body } as Req, callerOf(req.raw));
      return route.status ? reply.code(route.status).send(answer) : answer;
    },
  });
}
