import { Type } from '@sinclair/typebox';
import type { AuditActor } from '../audit/log.js';
import { PassThrough } from 'node:stream';
import { CameraCatalog } from '../cameras/catalog.js';
import { CameraNetworks } from '../cameras/networks.js';
import { discoverCameras, onvifStreamUri } from '../cameras/onvif.js';
import { cameraAdd, cameraRemove, cameraSnapshot, cameraTest, cameraUpdate } from '../cameras/operations.js';
import type { OperationContext } from '../control/operations.js';
import { CamerasRepo, type Camera } from '../db/repos/cameras.js';
import type { AppContext } from '../kernel/context.js';
import { isoUtc } from '../util/clock.js';
import { WebError } from '../https/error.js';
import { actorOf } from './auth.js';
import type { LiveViews } from './live.js';
import { webRoute, type WebRoute } from './route.js';

const closed = { additionalProperties: false } as const;
const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_][A-Za-z0-9_-]*$' });
const Text = (max: number) => Type.String({ minLength: 1, maxLength: max });
const Transport = Type.Unsafe<'tcp' | 'udp'>({ type: 'string', enum: ['tcp', 'udp'] });

/** A camera's user name and password as a form sends them (both optional; a password alone means none). */
const credentialFields = { username: Type.Optional(Text(128)), password: Type.Optional(Type.String({ maxLength: 256 })) };

function credentialsOf(body: { username?: string; password?: string }): { username: string; password: string } | undefined {
  return body.username !== undefined ? { username: body.username, password: body.password ?? '' } : undefined;
}

/** What the console reads of the recorder's buffer status (the composition root passes `bufferStatus`). */
export interface BufferHealth {
  daemonReporting: boolean;
  policy: { hours: number };
  cameras: {
    cameraId: string;
    state: string;
    reason: string | null;
    hoursBuffered: number;
    bytes: number;
    gaps: number;
    openGap: { startUtcMs: number } | null;
    lastSegmentAgeS: number | null;
    fps: number | null;
    bitrateKbps: number | null;
  }[];
  alarms: { kind: string; subject: string; message: string; raisedUtcMs: number }[];
}

/** A camera as the manager console shows it: never its credentials (only whether it has some). */
function cameraOut(c: Camera): Record<string, unknown> {
  return { id: c.id, name: c.name, url: c.url, transport: c.transport, zone: c.zone, enabled: c.enabled, has_credentials: c.hasCredentials };
}

/**
 * The manager console's camera routes. Changes go through the same operations as the CLI (`camera add`,
 * `update`, `remove`, `test`, `snapshot`), so one place checks the address against the camera networks,
 * seals the credentials and writes the audit; the actor is the logged-in manager.
 */
export function cameraApi(d: { ctx: AppContext; operationContext: (actor: AuditActor) => OperationContext; bufferHealth: () => BufferHealth; live: LiveViews }): WebRoute[] {
  const repo = new CamerasRepo(d.ctx.db);
  const op = d.operationContext;
  const networks = (): CameraNetworks => new CameraNetworks(d.ctx.config.cameras.networks);
  return [
    webRoute({
      method: 'GET',
      url: '/api/v1/cameras',
      access: 'manager',
      summary: 'Every camera with how it records: state in plain words, hours kept, gaps, last segment, fps and bitrate.',
      handler: () => {
        const status = d.bufferHealth();
        const health = new Map(status.cameras.map((c) => [c.cameraId, c]));
        return {
          daemon_reporting: status.daemonReporting,
          keep_hours: status.policy.hours,
          cameras: repo.list().map((c) => {
            const h = health.get(c.id);
            return {
              ...cameraOut(c),
              state: h?.state ?? 'unknown',
              reason: h?.reason ?? null,
              hours_kept: h ? Number(h.hoursBuffered.toFixed(2)) : 0,
              bytes: h?.bytes ?? 0,
              gaps: h?.gaps ?? 0,
              open_gap_since: h?.openGap ? isoUtc(h.openGap.startUtcMs) : null,
              last_segment_age_s: h?.lastSegmentAgeS ?? null,
              fps: h?.fps ?? null,
              bitrate_kbps: h?.bitrateKbps ?? null,
            };
          }),
          alarms: status.alarms.map((a) => ({ kind: a.kind, subject: a.subject, message: a.message, since: isoUtc(a.raisedUtcMs) })),
        };
      },
    }),
    webRoute<{ id: string; name: string; url: string; zone?: string; transport?: 'tcp' | 'udp'; username?: string; password?: string }>({
      method: 'POST',
      url: '/api/v1/cameras',
      access: 'manager',
      summary: "Add a camera by its RTSP address (user name and password apart: they are sealed on the box and never shown again).",
      status: 201,
      schema: {
        body: Type.Object(
          { id: Id, name: Text(100), url: Text(2048), zone: Type.Optional(Type.String({ maxLength: 64 })), transport: Type.Optional(Transport), ...credentialFields },
          closed,
        ),
      },
      handler: async ({ body, caller }) => {
        const added = await cameraAdd.run(op(actorOf(caller!.account)), { id: body.id, name: body.name, url: body.url, zone: body.zone, transport: body.transport, credentials: credentialsOf(body) });
        return { camera: cameraOut(added.camera) };
      },
    }),
    webRoute<{ name?: string; url?: string; zone?: string; transport?: 'tcp' | 'udp'; enabled?: boolean; username?: string; password?: string; clear_credentials?: boolean }>({
      method: 'POST',
      url: '/api/v1/cameras/:id',
      access: 'manager',
      summary: 'Change a camera: name, address, zone, transport, on/off, or its credentials.',
      schema: {
        params: Type.Object({ id: Id }, closed),
        body: Type.Object(
          {
            name: Type.Optional(Text(100)),
            url: Type.Optional(Text(2048)),
            zone: Type.Optional(Type.String({ maxLength: 64 })),
            transport: Type.Optional(Transport),
            enabled: Type.Optional(Type.Boolean()),
            ...credentialFields,
            clear_credentials: Type.Optional(Type.Boolean()),
          },
          closed,
        ),
      },
      handler: async ({ params, body, caller }) => {
        const { username, password, clear_credentials, ...rest } = body;
        const credentials = clear_credentials ? null : credentialsOf({ username, password });
        const camera = await cameraUpdate.run(op(actorOf(caller!.account)), { id: params.id!, patch: { ...rest, ...(credentials !== undefined ? { credentials } : {}) } });
        return { camera: cameraOut(camera) };
      },
    }),
    webRoute({
      method: 'POST',
      url: '/api/v1/cameras/:id/remove',
      access: 'manager',
      summary: 'Remove a camera (its buffered footage ages out as usual; evidence already cut is kept).',
      schema: { params: Type.Object({ id: Id }, closed) },
      handler: async ({ params, caller }) => ({ camera: cameraOut(await cameraRemove.run(op(actorOf(caller!.account)), { id: params.id! })) }),
    }),
    webRoute<{ id?: string; url?: string; transport?: 'tcp' | 'udp'; username?: string; password?: string }>({
      method: 'POST',
      url: '/api/v1/cameras-test',
      access: 'manager',
      summary: 'Try a camera (registered, or an address before adding it) for a few seconds: what it sends, or what is wrong in plain words.',
      schema: {
        body: Type.Object({ id: Type.Optional(Id), url: Type.Optional(Text(2048)), transport: Type.Optional(Transport), ...credentialFields }, closed),
      },
      handler: async ({ body, caller }) => {
        const r = await cameraTest.run(op(actorOf(caller!.account)), { id: body.id, url: body.url, transport: body.transport, credentials: credentialsOf(body), seconds: 3 });
        return r.ok ? { ok: true, url: r.url, stream: r.stream } : { ok: false, url: r.url, problem: r.problem };
      },
    }),
    webRoute({
      method: 'GET',
      url: '/api/v1/cameras/:id/snapshot',
      access: 'manager',
      summary: 'One picture from the camera now (audited).',
      schema: { params: Type.Object({ id: Id }, closed) },
      handler: async ({ params, caller, reply }) => {
        const { jpegBase64 } = await cameraSnapshot.run(op(actorOf(caller!.account)), { id: params.id!, reason: 'manager console' });
        return reply.type('image/jpeg').header('cache-control', 'no-store').send(Buffer.from(jpegBase64, 'base64'));
      },
    }),
    webRoute({
      method: 'POST',
      url: '/api/v1/cameras-discover',
      access: 'manager',
      summary: 'Find ONVIF cameras on the camera networks (WS-Discovery); only answers from inside the camera networks are listed.',
      handler: async ({ caller }) => {
        const c = d.ctx.config.cameras;
        const targets = c.discovery_targets.map((t) => {
          const at = t.lastIndexOf(':');
          return { host: t.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(t.slice(at + 1)) };
        });
        const found = await discoverCameras({ networks: networks(), multicast: c.discovery_multicast, targets, waitMs: c.discovery_wait_ms });
        d.ctx.audit.append({ actor: actorOf(caller!.account), action: 'camera.discovery', detail: { found: found.length } });
        return { cameras: found };
      },
    }),
    webRoute<{ xaddr: string; username?: string; password?: string }>({
      method: 'POST',
      url: '/api/v1/cameras-onvif',
      access: 'manager',
      summary: "Ask a discovered ONVIF camera for its RTSP address (GetStreamUri of its first profile).",
      schema: { body: Type.Object({ xaddr: Text(2048), ...credentialFields }, closed) },
      handler: async ({ body }) => {
        const r = await onvifStreamUri(body.xaddr, { networks: networks(), credentials: credentialsOf(body), timeoutMs: d.ctx.config.cameras.probe_timeout_s * 1000 });
        return { url: r.uri, profile: r.profile };
      },
    }),
    webRoute({
      method: 'GET',
      url: '/api/v1/cameras/:id/live',
      access: 'manager',
      summary: "The camera live, as fragmented MP4 for the browser's MediaSource (the camera's own H.264 copied, never re-encoded; an H.265 camera as a small H.264 transcode); audited.",
      schema: { params: Type.Object({ id: Id }, closed) },
      handler: async ({ params, caller, reply }) => {
        const id = params.id!;
        const catalog = CameraCatalog.fromConfig(d.ctx.config, d.ctx.paths.stateDir, d.ctx);
        const out = new PassThrough();
        let started: (mime: string) => void = () => undefined;
        let failed: (err: Error) => void = () => undefined;
        const ready = new Promise<string>((resolve, reject) => {
          started = resolve;
          failed = reject;
        });
        const stopWatching = await d.live.watch(id, () => catalog.target(id), {
          ready: (mime) => started(mime),
          data: (chunk) => out.write(chunk),
          end: (reason) => {
            failed(new WebError(503, `no live picture from camera ${id}: ${reason ?? 'the live view stopped'}`, { code: 'live_unavailable', hint: 'the camera page says how the camera records; try again in a moment' }));
            out.end();
          },
        });
        // the response ends when the viewer goes (tab closed, page left) or the stream stops
        reply.raw.once('close', stopWatching);
        let mime: string;
        try {
          mime = await ready;
        } catch (err) {
          stopWatching();
          throw err;
        }
        d.ctx.audit.append({ actor: actorOf(caller!.account), action: 'camera.live_viewed', objectIds: [id] });
        return reply.type(mime).header('cache-control', 'no-store').send(out);
      },
    }),
  ];
}
