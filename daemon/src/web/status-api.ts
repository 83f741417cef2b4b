import { Type } from '@sinclair/typebox';
import { sendMetrics, type MetricsSource } from '../https/metrics.js';
import type { AuditRow } from '../db/repos/audit.js';
import type { AppContext } from '../kernel/context.js';
import { isoUtc } from '../util/clock.js';
import type { FacePipelineCapability } from '../models/verify.js';
import type { LinkStatus } from '../uplink/service.js';
import { webRoute, type WebRoute } from './route.js';

/** The box's parts a manager checks on the status page, given by the composition root. */
export interface DeviceHealth {
  link: LinkStatus;
  models: FacePipelineCapability;
  /** The daemon's own health check (app/liveness.ts): what is wrong, if anything. */
  health: { healthy: boolean; problems: string[] };
  /** Every service started, and not stopping. */
  ready: boolean;
}

const closed = { additionalProperties: false } as const;
const PAGE = 100;

/** A row of the audit as the console shows it (its hash link kept, so a reader can check it against an export). */
function auditOut(r: AuditRow): Record<string, unknown> {
  return { seq: r.seq, time: isoUtc(r.ts_utc), actor: r.actor, action: r.action, objects: r.object_ids, result: r.result, justification: r.justification, detail: r.detail, hash: r.hash };
}

/** A public probe: 200 with `{status: yes}` when `state` says so, else 503 with `{status: no}`. */
function probe(url: string, summary: string, state: () => [boolean, string, string]): WebRoute {
  return webRoute({
    method: 'GET',
    url,
    access: 'public',
    summary,
    handler: ({ reply }) => {
      const [good, yes, no] = state();
      void reply.code(good ? 200 : 503);
      return { status: good ? yes : no };
    },
  });
}

/** The manager console's read-only views: the audit log (filterable, newest first) and the device's status. */
export function statusApi(d: { ctx: AppContext; startedAtMs: number; fingerprint: () => string | undefined; device: () => DeviceHealth }): WebRoute[] {
  return [
    webRoute({
      method: 'GET',
      url: '/api/v1/audit',
      access: 'manager',
      summary: 'The audit log, newest first, a page at a time (read-only); `action` keeps rows whose action starts with it.',
      schema: {
        querystring: Type.Object({ before: Type.Optional(Type.String({ pattern: '^[0-9]{1,12}$' })), action: Type.Optional(Type.String({ maxLength: 64, pattern: '^[a-z_.]*$' })) }, closed),
      },
      handler: ({ query }) => {
        const head = d.ctx.audit.head().count;
        let before = query.before ? Math.min(Number(query.before), head + 1) : head + 1;
        const out: AuditRow[] = [];
        // walk back a window at a time until a page is full or the start is reached
        while (out.length < PAGE && before > 1) {
          const from = Math.max(1, before - 500);
          const chunk: AuditRow[] = [];
          for (const r of d.ctx.audit.rows(from)) {
            if (r.seq >= before) break;
            if (!query.action || r.action.startsWith(query.action)) chunk.push(r);
          }
          out.push(...chunk.reverse().slice(0, PAGE - out.length));
          before = from;
        }
        const last = out[out.length - 1];
        return { rows: out.map(auditOut), next_before: last && last.seq > 1 && out.length === PAGE ? last.seq : null, total: head };
      },
    }),
    // for a load balancer, a monitoring system or a supervisor: a word and the HTTP status, nothing more
    probe('/healthz', 'Liveness: 200 while the daemon is healthy (its event loop, database, recorder and incident worker), else 503. The reasons are in /api/v1/status and the log.', () => [d.device().health.healthy, 'ok', 'unhealthy']),
    probe('/readyz', 'Readiness: 200 once every service has started (until the daemon stops), else 503.', () => [d.device().ready, 'ready', 'not_ready']),
    webRoute({
      method: 'GET',
      url: '/api/v1/status',
      access: 'manager',
      summary: "The box: its id, software version, uptime, clock, the link to the force and what waits to be sent, the face models, and the web app's certificate fingerprint.",
      handler: () => {
        const clock = d.ctx.clockSync.current();
        const { link, models, health } = d.device();
        return {
          health: { healthy: health.healthy, problems: health.problems },
          force_link: { state: link.state, error: link.error },
          outbox: { waiting: link.outbox.pending, bytes: link.outbox.bytes, oldest_age_s: link.outbox.oldest_age_s === null ? null : Math.round(link.outbox.oldest_age_s) },
          // names and states only (a file's path says nothing a manager can act on)
          models: { available: models.available, reason: models.reason ?? null, files: models.models.map((m) => ({ name: m.name, state: m.state })) },
          device: d.ctx.config.device.id,
          store: d.ctx.config.device.store,
          version: d.ctx.version,
          boot_id: d.ctx.bootId,
          up_since: isoUtc(d.startedAtMs),
          clock,
          certificate_sha256: d.fingerprint() ?? null,
          audit_rows: d.ctx.audit.head().count,
        };
      },
    }),
  ];
}

/** Prometheus's scrape of the box (app/metrics.ts says what is in it): a manager, or the scrape token. */
export function metricsRoute(source: MetricsSource): WebRoute {
  return webRoute({
    method: 'GET',
    url: '/metrics',
    access: 'metrics',
    summary: "The box's figures for Prometheus (text format): cameras, buffer, incidents, pipeline times, outbox, link, the process. A manager's login or `Authorization: Bearer <web.metrics_token_file's token>`.",
    handler: ({ reply }) => sendMetrics(source, reply),
  });
}
