import { Type } from '@sinclair/typebox';
import type { Db } from '../db/db.js';
import { CamerasRepo } from '../db/repos/cameras.js';
import type { IncidentDesk, IncidentView } from '../incidents/desk.js';
import { REASON_CODES, type ReasonCode } from '../incidents/model.js';
import { isoUtc } from '../util/clock.js';
import { WebError } from '../https/error.js';
import { actorOf, type Caller, type WebAuth } from './auth.js';
import { webRoute, type WebRoute } from './route.js';
import { clearedSessionCookie, sessionCookie } from './server.js';
import type { WebRepo } from '../db/repos/web.js';

const Name = Type.String({ minLength: 1, maxLength: 64 });
const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });
const closed = { additionalProperties: false } as const;

export interface WebApiDeps {
  db: Db;
  auth: WebAuth;
  store: WebRepo;
  desk: IncidentDesk;
  sessionMaxS: number;
}

/** What staff see of an incident: where it is and how far, never files, hashes or faces. */
export interface StaffIncident {
  id: string;
  state: string;
  reason: ReasonCode;
  happened_at: string;
  window: { from: string; to: string };
  logged_at: string;
  cameras: { name: string; state: string; coverage: number | null }[];
  failure: string | null;
  /** While faces are looked for: frames done of all; once done, the number of people found. */
  progress: { frames_done: number; frames_total: number; people: number | null } | null;
  /** Managers only: who logged it, each camera's clip (playable once cut), and the delivery to the force. */
  detail?: {
    logged_by: string;
    cameras: { id: string; clip: { bytes: number | null; from: string | null; to: string | null } | null; gaps: number | null; error: string | null }[];
    pictures: number | null;
    delivery: { state: 'pending' | 'delivered' | 'rejected'; attempts: number; last_sent: string | null; received: string | null; last_error: string | null; rejected_reason: string | null; bytes: number } | null;
  };
}

export function staffView(v: IncidentView, names: Map<string, string>, accounts?: Map<string, string>): StaffIncident {
  const detail = accounts && {
    logged_by: accounts.get(v.loggedBy.id) ?? `${v.loggedBy.type} ${v.loggedBy.id}`,
    cameras: v.cameras.map((c) => ({
      id: c.cameraId,
      clip: c.clipState === 'done' ? { bytes: c.clipBytes, from: c.clipStartMs === null ? null : isoUtc(c.clipStartMs), to: c.clipEndMs === null ? null : isoUtc(c.clipEndMs) } : null,
      gaps: c.gaps,
      error: c.error,
    })),
    pictures: v.progress?.crops ?? null,
    delivery: v.delivery && {
      state: v.delivery.state,
      attempts: v.delivery.attempts,
      last_sent: v.delivery.lastSentUtc === null ? null : isoUtc(v.delivery.lastSentUtc),
      received: v.delivery.deliveredUtc === null ? null : isoUtc(v.delivery.deliveredUtc),
      last_error: v.delivery.lastError,
      rejected_reason: v.delivery.rejectedReason,
      bytes: v.delivery.bytes,
    },
  };
  return {
    ...(detail ? { detail } : {}),
    id: v.id,
    state: v.state,
    reason: v.reason,
    happened_at: isoUtc(v.incidentAtMs),
    window: { from: isoUtc(v.windowFromMs), to: isoUtc(v.windowToMs) },
    logged_at: isoUtc(v.loggedAtMs),
    cameras: v.cameras.map((c) => ({ name: names.get(c.cameraId) ?? c.cameraId, state: c.clipState, coverage: c.coverage })),
    failure: v.failure,
    progress: v.progress && { frames_done: v.progress.frames_done, frames_total: v.progress.frames_total, people: v.progress.subjects ?? null },
  };
}

/** Camera ids to the names people know them by (staff see names, never addresses). */
export function cameraNames(cameras: CamerasRepo): Map<string, string> {
  return new Map(cameras.list().map((c) => [c.id, c.name]));
}

/** The web app's API routes (the pages and docs are added by the server). */
export function webApi(d: WebApiDeps): WebRoute[] {
  const cameras = new CamerasRepo(d.db);
  const names = (): Map<string, string> => cameraNames(cameras);
  const login = (caller: Caller, reply: { header(k: string, v: string): unknown }): unknown => {
    reply.header('set-cookie', sessionCookie(caller.token, d.sessionMaxS));
    return { account: { name: caller.account.name, role: caller.account.role }, csrf: caller.csrf };
  };
  const ownIncident = (caller: Caller, id: string): IncidentView => {
    let v: IncidentView | undefined;
    try {
      v = d.desk.view(id);
    } catch {
      v = undefined;
    }
    // staff see only what they logged; someone else's incident is "not found", not "forbidden"
    if (!v || (caller.account.role !== 'manager' && v.loggedBy.id !== caller.account.id)) throw new WebError(404, 'no such incident', { code: 'not_found' });
    return v;
  };

  return [
    webRoute({
      method: 'GET',
      url: '/api/v1/session',
      access: 'public',
      summary: 'Who is logged in (and the CSRF token of their session), and whether the box still needs its first manager.',
      handler: ({ caller }) => ({
        setup_needed: d.auth.setupNeeded(),
        account: caller ? { name: caller.account.name, role: caller.account.role } : null,
        csrf: caller?.csrf ?? null,
      }),
    }),
    webRoute<{ code: string; name: string; password: string }>({
      method: 'POST',
      url: '/api/v1/setup',
      access: 'public',
      summary: 'Make the first manager with the one-time setup code (printed by the daemon; `hindsight web setup-code`).',
      schema: { body: Type.Object({ code: Type.String({ minLength: 1, maxLength: 32 }), name: Name, password: Type.String({ minLength: 1, maxLength: 256 }) }, closed) },
      status: 201,
      handler: async ({ body, ip, reply }) => login(await d.auth.setup(body.code, body.name, body.password, ip), reply),
    }),
    webRoute<{ name: string; secret: string }>({
      method: 'POST',
      url: '/api/v1/login',
      access: 'public',
      summary: 'Log in: staff with their PIN, managers with their password.',
      schema: { body: Type.Object({ name: Name, secret: Type.String({ minLength: 1, maxLength: 256 }) }, closed) },
      handler: async ({ body, ip, reply }) => login(await d.auth.login(body.name, body.secret, ip), reply),
    }),
    webRoute({
      method: 'POST',
      url: '/api/v1/logout',
      access: 'staff',
      summary: 'Log out (the session ends on the box, not only in this browser).',
      handler: ({ caller, reply }) => {
        d.auth.logout(caller!);
        reply.header('set-cookie', clearedSessionCookie());
        return { ok: true };
      },
    }),
    webRoute({
      method: 'GET',
      url: '/api/v1/choices',
      access: 'staff',
      summary: 'What the staff page offers: zones, cameras by name (no pictures) and reasons.',
      handler: () => {
        const enabled = cameras.list().filter((c) => c.enabled);
        return {
          zones: [...new Set(enabled.map((c) => c.zone).filter((z) => z))].sort(),
          cameras: enabled.map((c) => ({ id: c.id, name: c.name, zone: c.zone })),
          reasons: REASON_CODES,
        };
      },
    }),
    webRoute<{ request_key: string; minutes_ago?: number; at?: string; zone?: string; cameras?: string[]; reason: ReasonCode; justification: string }>({
      method: 'POST',
      url: '/api/v1/incidents',
      access: 'staff',
      summary: 'Log an incident. The same request_key (one per filled-in form) gives the same incident: a double tap or a resend logs one.',
      status: 201,
      schema: {
        body: Type.Object(
          {
            request_key: Type.String({ minLength: 8, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }),
            minutes_ago: Type.Optional(Type.Integer({ minimum: 0, maximum: 720 })),
            at: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            zone: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            cameras: Type.Optional(Type.Array(Id, { minItems: 1, maxItems: 64 })),
            reason: Type.Unsafe<ReasonCode>({ type: 'string', enum: [...REASON_CODES] }),
            justification: Type.String({ maxLength: 2000 }),
          },
          closed,
        ),
      },
      handler: ({ body, caller }) => {
        const account = caller!.account;
        if (body.minutes_ago !== undefined && body.at !== undefined) throw new WebError(400, 'give either minutes_ago or at, not both', { code: 'bad_request' });
        if (body.zone !== undefined && body.cameras !== undefined) throw new WebError(400, 'give either a zone or cameras, not both', { code: 'bad_request' });
        const id = d.db.transaction(() => {
          const earlier = d.store.submitted(account.id, body.request_key);
          if (earlier) return earlier;
          const at = body.at ?? (body.minutes_ago ? `${body.minutes_ago} minutes ago` : 'now');
          const incident = d.desk.log({
            at,
            ...(body.zone !== undefined ? { zone: body.zone } : body.cameras !== undefined ? { cameras: body.cameras } : { all: true }),
            reason: body.reason,
            justification: body.justification,
            by: { ...actorOf(account), type: 'user' },
          });
          d.store.recordSubmitted(account.id, body.request_key, incident.id);
          return incident.id;
        })();
        return { incident: staffView(d.desk.view(id), names()) };
      },
    }),
    webRoute({
      method: 'GET',
      url: '/api/v1/incidents',
      access: 'staff',
      summary: 'Incidents, newest first: staff see the ones they logged, managers all.',
      handler: ({ caller }) => {
        const all = d.desk.list({ limit: 200 });
        const manager = caller!.account.role === 'manager';
        const mine = manager ? all : all.filter((v) => v.loggedBy.id === caller!.account.id);
        const n = names();
        const accounts = manager ? new Map(d.store.accounts().map((a) => [a.id, a.name])) : undefined;
        return { incidents: mine.slice(0, 50).map((v) => staffView(v, n, accounts)) };
      },
    }),
    webRoute({
      method: 'GET',
      url: '/api/v1/incidents/:id',
      access: 'staff',
      summary: 'One incident (staff: only one they logged).',
      schema: { params: Type.Object({ id: Id }, closed) },
      handler: ({ caller, params }) => ({ incident: staffView(ownIncident(caller!, params.id!), names()) }),
    }),
    webRoute<{ justification: string }>({
      method: 'POST',
      url: '/api/v1/incidents/:id/cancel',
      access: 'manager',
      summary: 'Cancel an incident (managers only; its footage lock is released and its files deleted).',
      schema: { params: Type.Object({ id: Id }, closed), body: Type.Object({ justification: Type.String({ minLength: 1, maxLength: 2000 }) }, closed) },
      handler: ({ caller, params, body }) => {
        ownIncident(caller!, params.id!);
        d.desk.cancel(params.id!, actorOf(caller!.account), body.justification);
        return { incident: staffView(d.desk.view(params.id!), names()) };
      },
    }),
    webRoute({
      method: 'GET',
      url: '/api/v1/accounts',
      access: 'manager',
      summary: 'The accounts of the web app (names and roles; never secrets).',
      handler: () => ({ accounts: d.store.accounts().map((a) => ({ id: a.id, name: a.name, role: a.role, created: isoUtc(a.createdUtcMs), disabled: a.disabled })) }),
    }),
    webRoute<{ pin?: string; disabled?: boolean }>({
      method: 'POST',
      url: '/api/v1/accounts/:id',
      access: 'manager',
      summary: "Change a staff account: a new PIN (their sessions end), or turn it off or on.",
      schema: { params: Type.Object({ id: Id }, closed), body: Type.Object({ pin: Type.Optional(Type.String({ minLength: 1, maxLength: 12 })), disabled: Type.Optional(Type.Boolean()) }, closed) },
      handler: async ({ caller, params, body }) => {
        let a = d.store.account(params.id!);
        if (body.pin !== undefined) a = await d.auth.resetPin(caller!.account, params.id!, body.pin);
        if (body.disabled !== undefined) a = d.auth.setDisabled(caller!.account, params.id!, body.disabled);
        if (!a) throw new WebError(404, 'no such account', { code: 'not_found' });
        return { account: { id: a.id, name: a.name, role: a.role, disabled: a.disabled } };
      },
    }),
    webRoute<{ name: string; pin: string }>({
      method: 'POST',
      url: '/api/v1/accounts',
      access: 'manager',
      summary: 'Add a staff account: a name and a PIN of 6 to 12 digits.',
      status: 201,
      schema: { body: Type.Object({ name: Name, pin: Type.String({ minLength: 1, maxLength: 12 }) }, closed) },
      handler: async ({ caller, body }) => {
        const a = await d.auth.addStaff(caller!.account, body.name, body.pin);
        return { account: { id: a.id, name: a.name, role: a.role } };
      },
    }),
  ];
}
