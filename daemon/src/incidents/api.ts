import { Type } from '@sinclair/typebox';
import { controlRoute } from '../control/route.js';
import { REASON_CODES, type ReasonCode } from './model.js';
import type { IncidentView } from './desk.js';
import type { WorkerStats } from './worker.js';

/**
 * The incident routes of the control API, described once: the daemon serves them from here (routes.ts)
 * and the CLI calls them through the same descriptions. Schemas are strict (unknown fields and wrong
 * types are refused); the service applies the business rules and the audit. Who acts is never in a request:
 * it is the caller's proven user (control/peer.ts).
 */

const Id = Type.String({ minLength: 1, maxLength: 64 });
const Justification = Type.String({ maxLength: 4000 });
const ById = Type.Object({ id: Id });

type OneIncident = { incident: IncidentView };

export const INCIDENT_API = {
  /** How hard the incident worker works: passes and time inside them (a spinning worker shows here). */
  workerStats: controlRoute<{ worker: WorkerStats }>()({ method: 'GET', path: '/v1/incidents-worker' }),

  log: controlRoute<OneIncident>()({
    method: 'POST',
    path: '/v1/incidents',
    status: 201,
    body: Type.Object(
      {
        at: Type.Optional(Type.String({ maxLength: 64 })),
        // 600 s is the longest window there is; the service applies the configured (lower) cap
        before_s: Type.Optional(Type.Integer({ minimum: 0, maximum: 600 })),
        after_s: Type.Optional(Type.Integer({ minimum: 0, maximum: 600 })),
        cameras: Type.Optional(Type.Array(Id, { minItems: 1, maxItems: 64 })),
        zone: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
        all: Type.Optional(Type.Boolean()),
        reason: Type.Unsafe<ReasonCode>({ type: 'string', enum: [...REASON_CODES] }),
        justification: Justification,
        // the member of staff an operator logs it for: a note in the audit row, next to the operator
        on_behalf_of: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
      },
      { additionalProperties: false },
    ),
  }),

  list: controlRoute<{ incidents: IncidentView[] }>()({
    method: 'GET',
    path: '/v1/incidents',
    query: Type.Object({ state: Type.Optional(Type.String({ maxLength: 200 })), limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$' })) }, { additionalProperties: false }),
  }),

  show: controlRoute<OneIncident>()({ method: 'GET', path: '/v1/incidents/:id', params: ById }),

  cancel: controlRoute<OneIncident>()({
    method: 'POST',
    path: '/v1/incidents/:id/cancel',
    params: ById,
    body: Type.Object({ justification: Justification }, { additionalProperties: false }),
  }),

  retry: controlRoute<OneIncident>()({ method: 'POST', path: '/v1/incidents/:id/retry', params: ById, body: Type.Object({}, { additionalProperties: false }) }),
} as const;
