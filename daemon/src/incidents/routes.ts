import type { FastifyPluginAsync } from 'fastify';
import { INCIDENT_STATES, REASON_CODES, type IncidentState } from './model.js';
import type { IncidentService, LogIncidentRequest } from './service.js';
import type { WorkerStats } from './worker.js';

const id = { type: 'string', minLength: 1, maxLength: 64 } as const;
const actor = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'id'],
  properties: { type: { type: 'string', enum: ['user', 'button', 'cli'] }, id, role: { type: 'string', maxLength: 32 } },
} as const;
const justification = { type: 'string', maxLength: 4000 } as const;

/**
 * Incident routes of the control API. Schemas are strict (unknown fields and wrong types are refused);
 * the service applies the business rules and the audit.
 */
export function incidentRoutes(service: IncidentService, worker: { stats(): WorkerStats }): FastifyPluginAsync {
  return async (app) => {
    // How hard the incident worker works: passes and time inside them (a spinning worker shows here).
    app.get('/v1/incidents-worker', async () => ({ worker: worker.stats() }));

    app.post<{ Body: LogIncidentRequest }>(
      '/v1/incidents',
      {
        schema: {
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['reason', 'justification', 'by'],
            properties: {
              at: { type: 'string', maxLength: 64 },
              // 600 s is the longest window there is; the service applies the configured (lower) cap
              before_s: { type: 'integer', minimum: 0, maximum: 600 },
              after_s: { type: 'integer', minimum: 0, maximum: 600 },
              cameras: { type: 'array', minItems: 1, maxItems: 64, items: id },
              zone: { type: 'string', minLength: 1, maxLength: 64 },
              all: { type: 'boolean' },
              reason: { type: 'string', enum: [...REASON_CODES] },
              justification,
              by: actor,
            },
          },
        },
      },
      async (req, reply) => reply.code(201).send({ incident: service.view(service.log(req.body).id) }),
    );

    app.get<{ Querystring: { state?: string; limit?: string } }>(
      '/v1/incidents',
      { schema: { querystring: { type: 'object', additionalProperties: false, properties: { state: { type: 'string', maxLength: 200 }, limit: { type: 'string', pattern: '^[0-9]{1,4}$' } } } } },
      async (req) => {
        const states = req.query.state?.split(',').filter((s): s is IncidentState => (INCIDENT_STATES as readonly string[]).includes(s));
        return { incidents: service.list({ states, limit: req.query.limit ? Number(req.query.limit) : 100 }) };
      },
    );

    app.get<{ Params: { id: string } }>('/v1/incidents/:id', { schema: { params: { type: 'object', properties: { id } } } }, async (req) => ({
      incident: service.view(req.params.id),
    }));

    app.post<{ Params: { id: string }; Body: { by: { type: 'user' | 'button' | 'cli'; id: string; role?: string }; justification: string } }>(
      '/v1/incidents/:id/cancel',
      {
        schema: {
          params: { type: 'object', properties: { id } },
          body: { type: 'object', additionalProperties: false, required: ['by', 'justification'], properties: { by: actor, justification } },
        },
      },
      async (req) => ({ incident: service.view(service.cancel(req.params.id, req.body.by, req.body.justification).id) }),
    );

    app.post<{ Params: { id: string }; Body: { by: { type: 'user' | 'button' | 'cli'; id: string } } }>(
      '/v1/incidents/:id/retry',
      { schema: { params: { type: 'object', properties: { id } }, body: { type: 'object', additionalProperties: false, required: ['by'], properties: { by: actor } } } },
      async (req) => ({ incident: service.view(service.retry(req.params.id, req.body.by).id) }),
    );
  };
}
