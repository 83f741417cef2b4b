import { Type } from '@sinclair/typebox';
import type { AuditLog } from '../../audit/log.js';
import type { KeyPairFile } from '../../crypto/keys.js';
import type { Db } from '../../db/db.js';
import { actorOf } from '../../https/accounts.js';
import { WebError } from '../../https/error.js';
import { isoUtc, type Clock } from '../../util/clock.js';
import { CommandIssuer } from '../commands.js';
import { CommandsRepo, type FleetCommand } from '../db/commands.js';
import { configView } from '../desired-config.js';
import { fleetLines, type FleetLine } from '../fleet-view.js';
import { consoleRoute, type ConsoleRoute } from './route.js';
import { closed, Id, Reason } from './schemas.js';

/**
 * The fleet, for admins: every box at a glance (presence, cameras recording, alarms, free disk, its
 * configuration and audit log's state), one box in full (its health document, configuration, audit
 * check and latest commands), and the few commands an admin gives from the console, each with a reason
 * (signed with the force's command key, sent by a running receiver; each audited).
 */

/** What the console may ask a box (the rest, with their arguments, from `hindsight-force fleet cmd`). */
export const CONSOLE_OPS = ['ping', 'get_status', 'get_config', 'revoke_sessions', 'restart'] as const;

const ms = (t: number | null): string | null => (t === null ? null : isoUtc(t));

function lineView(l: FleetLine): Record<string, unknown> {
  return {
    device: l.deviceId,
    store: l.store,
    state: l.state,
    since: ms(l.sinceUtc),
    version: l.version,
    health_at: ms(l.healthUtc),
    cameras: l.cameras,
    alarms: l.alarms,
    free_disk_bytes: l.freeDiskBytes,
    config: l.config,
    audit: l.audit ? { status: l.audit.status, rows: l.audit.count, checked: isoUtc(l.audit.checkedUtc), alarm: l.audit.alarm } : null,
  };
}

function commandView(c: FleetCommand): Record<string, unknown> {
  return { id: c.cmdId, device: c.deviceId, op: c.op, state: c.status, issued: isoUtc(c.createdUtc), expires: isoUtc(c.expUtc), replied: ms(c.repliedUtc), reply: c.reply, error: c.error };
}

export function fleetApi(d: { db: Db; audit: AuditLog; clock: Clock; commandKey: () => KeyPairFile }): ConsoleRoute[] {
  const commands = new CommandsRepo(d.db);
  const line = (id: string): FleetLine => {
    const [l] = fleetLines(d.db, id);
    if (!l) throw new WebError(404, `box ${id} is not enrolled with this force`, { code: 'not_found' });
    return l;
  };
  return [
    consoleRoute({
      method: 'GET',
      url: '/api/v1/fleet',
      access: 'admin',
      summary: 'Every enrolled box: online/offline since when (or revoked, never seen), version, cameras recording, alarms, free disk, configuration state, audit check.',
      handler: () => ({ boxes: fleetLines(d.db).map(lineView) }),
    }),
    consoleRoute({
      method: 'GET',
      url: '/api/v1/fleet/:id',
      access: 'admin',
      summary: 'One box: its line, its whole latest health document, its desired and reported configuration, its audit check and its latest commands.',
      schema: { params: Type.Object({ id: Id }, closed) },
      handler: (req) => {
        const l = line(req.params.id!);
        const config = configView(d.db, l.deviceId);
        return { ...lineView(l), health: l.healthJson === null ? null : (JSON.parse(l.healthJson) as unknown), configuration: { desired_version: config.desiredVersion, desired: config.desired, reported: config.reported, state: config.state }, commands: commands.list(l.deviceId, 20).map(commandView) };
      },
    }),
    consoleRoute<{ op: (typeof CONSOLE_OPS)[number]; reason: string }>({
      method: 'POST',
      url: '/api/v1/fleet/:id/commands',
      access: 'admin',
      summary: "Give a box a command (ping, get_status, get_config, revoke_sessions, restart) with a reason; the answer comes back in the box's commands.",
      schema: { params: Type.Object({ id: Id }, closed), body: Type.Object({ op: Type.Union(CONSOLE_OPS.map((o) => Type.Literal(o))), reason: Reason }, closed) },
      handler: (req) => {
        const l = line(req.params.id!);
        if (l.revoked) throw new WebError(409, `box ${l.deviceId} is revoked: it is sent nothing`, { code: 'revoked' });
        if (req.body.reason.trim().split(/\s+/).length < 3) throw new WebError(400, 'say why in a few words (at least three)', { code: 'reason_too_short' });
        const issuer = new CommandIssuer({ db: d.db, audit: d.audit, key: d.commandKey(), clock: d.clock });
        const args = req.body.op === 'restart' ? { reason: req.body.reason.slice(0, 200) } : {};
        const c = issuer.issue({ deviceId: l.deviceId, op: req.body.op, args, ttlS: 120 }, actorOf(req.caller!.account), req.body.reason);
        req.reply.code(201);
        return commandView(c);
      },
    }),
    consoleRoute({
      method: 'GET',
      url: '/api/v1/fleet/commands/:id',
      access: 'admin',
      summary: "One command: queued, sent, done (with the box's answer), failed (with why) or expired.",
      schema: { params: Type.Object({ id: Id }, closed) },
      handler: (req) => {
        const c = commands.get(req.params.id!);
        if (!c) throw new WebError(404, 'no such command', { code: 'not_found' });
        return commandView(c);
      },
    }),
  ];
}
