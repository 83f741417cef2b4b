import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { AuditActor, AuditLog } from '../audit/log.js';
import type { DaemonPaths } from '../config/paths.js';
import type { Config } from '../config/schema.js';
import type { Db } from '../db/db.js';
import type { Clock } from '../util/clock.js';
import type { ClockSyncMonitor } from '../util/clock-sync.js';
import { HindsightError, UsageError } from '../util/errors.js';
import { controlRoute, serveRoute } from './route.js';

/**
 * Events an operation tells the daemon about: `enrolled` (a bundle or key set was installed: the uplink
 * connects, incidents waiting for enrollment resume), `queued` (evidence was queued: the sender wakes).
 */
export type OperationEvent = 'enrolled' | 'queued';

/** The box's store as a process holds it (the daemon, or a CLI command). */
export interface BoxDb {
  config: Config;
  paths: DaemonPaths;
  db: Db;
  audit: AuditLog;
  clock: Clock;
  /** The clock's NTP state. */
  clockSync: ClockSyncMonitor;
}

/** Where an operation runs: inside the running daemon, or in the CLI process while the daemon is stopped. */
export interface OperationContext extends BoxDb {
  /** Who asked for it: the control socket caller's proven user, or the web app's logged-in account. */
  actor: AuditActor;
  /** True inside the running daemon; false when the CLI runs it on a stopped daemon's database. */
  inDaemon: boolean;
  notify(event: OperationEvent): void;
}

/**
 * A change to the box's state (cameras, evidence locks, enrolment...). The same code runs in the daemon
 * (the single writer: the CLI sends the request over the control socket) and, only while the daemon is
 * stopped, in the CLI itself. Input arrives as JSON from another process: `run` validates all of it.
 */
export interface Operation<I = unknown, O = unknown> {
  /** Route name: /v1/ops/<name>. */
  readonly name: string;
  run(ctx: OperationContext, input: I): Promise<O> | O;
}

const NAME = /^[a-z][a-z0-9-]{0,40}(\.[a-z][a-z0-9-]{0,40})?$/;

/**
 * The one route every operation is reached by: POST /v1/ops/<name> with { input }, answered with
 * { result }; the actor is the caller's proven user (never a name in the request). The operation's own `run` checks `input` (it comes from another process) and types `result`.
 */
export const OPERATION_ROUTE = controlRoute<{ result: unknown }>()({
  method: 'POST',
  path: '/v1/ops/:name',
  params: Type.Object({ name: Type.String({ maxLength: 82 }) }),
  body: Type.Object({ input: Type.Object({}) }, { additionalProperties: false }),
});

/** Control routes for a set of operations (OPERATION_ROUTE). */
export function operationRoutes(ops: readonly Operation[], context: (actor: AuditActor) => OperationContext): FastifyPluginAsync {
  const byName = new Map(ops.map((op) => [op.name, op]));
  for (const name of byName.keys()) if (!NAME.test(name)) throw new Error(`bad operation name ${name}`);
  return async (app) => {
    serveRoute(app, OPERATION_ROUTE, async ({ params, body }, caller) => {
      const op = byName.get(params.name);
      if (!op) throw new HindsightError(`the daemon has no operation ${JSON.stringify(params.name)}`, { code: 'unknown_operation', hint: 'the CLI and the daemon are of different versions: restart the daemon after an upgrade' });
      return { result: await op.run(context(caller), body.input) };
    });
  };
}

/** Readers for an operation's JSON input (it comes from another process): wrong types are usage errors. */
export function inputObject(input: unknown): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new UsageError('the request is not an object');
  return input as Record<string, unknown>;
}

export function inputString(o: Record<string, unknown>, key: string, required: boolean): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) {
    if (required) throw new UsageError(`${key} is missing`);
    return undefined;
  }
  if (typeof v !== 'string') throw new UsageError(`${key} must be text`);
  return v;
}

export function inputBool(o: Record<string, unknown>, key: string): boolean | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new UsageError(`${key} must be true or false`);
  return v;
}
