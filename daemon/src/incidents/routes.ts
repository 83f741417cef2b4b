import type { FastifyPluginAsync } from 'fastify';
import { serveRoute } from '../control/route.js';
import { INCIDENT_API } from './api.js';
import { INCIDENT_STATES, type IncidentState } from './model.js';
import type { IncidentDesk } from './desk.js';
import type { WorkerStats } from './worker.js';

/** The daemon's side of the incident routes (described in api.ts, where the CLI calls them from). */
export function incidentRoutes(desk: IncidentDesk, worker: { stats(): WorkerStats }): FastifyPluginAsync {
  return async (app) => {
    serveRoute(app, INCIDENT_API.workerStats, () => ({ worker: worker.stats() }));

    serveRoute(app, INCIDENT_API.log, ({ body }, caller) => ({ incident: desk.view(desk.log({ ...body, by: caller }).id) }));

    serveRoute(app, INCIDENT_API.list, ({ query }) => {
      const states = query.state?.split(',').filter((s): s is IncidentState => (INCIDENT_STATES as readonly string[]).includes(s));
      return { incidents: desk.list({ states, limit: query.limit ? Number(query.limit) : 100 }) };
    });

    serveRoute(app, INCIDENT_API.show, ({ params }) => ({ incident: desk.view(params.id) }));

    serveRoute(app, INCIDENT_API.cancel, ({ params, body }, caller) => ({ incident: desk.view(desk.cancel(params.id, caller, body.justification).id) }));

    serveRoute(app, INCIDENT_API.retry, ({ params }, caller) => ({ incident: desk.view(desk.retry(params.id, caller).id) }));
  };
}
