import { createReadStream, existsSync } from 'node:fs';
import { Type } from '@sinclair/typebox';
import type { AuditLog } from '../../audit/log.js';
import type { KeyPairFile } from '../../crypto/keys.js';
import type { Db } from '../../db/db.js';
import { actorOf } from '../../https/accounts.js';
import { WebError } from '../../https/error.js';
import type { SignedPackageManifest } from '../../protocol/schemas.js';
import { isoUtc, type Clock } from '../../util/clock.js';
import { CommandIssuer } from '../commands.js';
import { CommandsRepo, type FleetCommand } from '../db/commands.js';
import { MasterClipsRepo } from '../db/master-clips.js';
import type { Workbench } from '../workbench.js';
import { found } from './found.js';
import { consoleRoute, type ConsoleRoute } from './route.js';
import { closed, Id, Reason } from './schemas.js';

/** How long a hold from the case page keeps the masters on the box (the longest a box takes). */
export const CASE_HOLD_DAYS = 365;

/**
 * An incident's master clips, for the supervisor who investigates its case: which clips its evidence
 * manifest names and which the force holds; "keep them on the box" (`hold_incident`) and "fetch them"
 * (`upload_masters`), each a signed command with a reason (audited, sent by a running receiver); and
 * the download of a clip the force holds (audited with its SHA-256).
 */
export function mastersApi(d: { db: Db; audit: AuditLog; clock: Clock; workbench: Workbench; commandKey: () => KeyPairFile }): ConsoleRoute[] {
  const masters = new MasterClipsRepo(d.db);
  const commands = new CommandsRepo(d.db);
  const Params = Type.Object({ id: Id }, closed);
  const caseOf = (id: string) => {
    const t = found(d.workbench, id);
    if (t.state !== 'accepted') throw new WebError(404, `incident ${t.incidentId} is not a case (it is ${t.state})`, { code: 'not_a_case', hint: 'a supervisor accepts it at triage first' });
    return t;
  };
  const commandView = (c: FleetCommand) => ({ id: c.cmdId, op: c.op, state: c.status, issued: isoUtc(c.createdUtc), reply: c.reply, error: c.error });
  return [
    consoleRoute({
      method: 'GET',
      url: '/api/v1/cases/:id/masters',
      access: 'supervisor',
      summary: "A case's master clips: those its evidence manifest names (camera, SHA-256, bytes), those the force holds, and the latest hold and fetch commands sent to its box.",
      schema: { params: Params },
      handler: ({ params }) => {
        const t = caseOf(params.id!);
        const named = masters.evidenceManifests(t.deviceId, t.incidentId).flatMap((e) => (JSON.parse(e.manifest) as SignedPackageManifest).manifest.clips.map((c) => ({ camera: c.camera, sha256: c.sha256, bytes: c.bytes })));
        const held = masters.ofIncident(t.deviceId, t.incidentId).map((m) => ({ envelope: m.envelope_id, camera: m.camera, sha256: m.sha256, bytes: m.bytes, received: isoUtc(m.received_utc) }));
        const sent = commands
          .list(t.deviceId, 200)
          .filter((c) => (c.op === 'hold_incident' || c.op === 'upload_masters') && c.args.incident_id === t.incidentId)
          .slice(0, 10)
          .map(commandView);
        return { device: t.deviceId, incident: t.incidentId, named, held, commands: sent };
      },
    }),
    consoleRoute<{ action: 'hold' | 'fetch'; reason: string }>({
      method: 'POST',
      url: '/api/v1/cases/:id/masters',
      access: 'supervisor',
      summary: `Ask the case's box to keep its master clips for ${CASE_HOLD_DAYS} more days (hold) or to send them to the force (fetch), with a reason; a signed command (audited) that a running receiver sends.`,
      schema: { params: Params, body: Type.Object({ action: Type.Union([Type.Literal('hold'), Type.Literal('fetch')]), reason: Reason }, closed) },
      handler: (req) => {
        const t = caseOf(req.params.id!);
        if (req.body.reason.trim().split(/\s+/).length < 3) throw new WebError(400, 'say why in a few words (at least three)', { code: 'reason_too_short' });
        const issuer = new CommandIssuer({ db: d.db, audit: d.audit, key: d.commandKey(), clock: d.clock });
        const request =
          req.body.action === 'hold'
            ? { deviceId: t.deviceId, op: 'hold_incident' as const, args: { incident_id: t.incidentId, days: CASE_HOLD_DAYS }, ttlS: 300 }
            : { deviceId: t.deviceId, op: 'upload_masters' as const, args: { incident_id: t.incidentId }, ttlS: 300 };
        let c: FleetCommand;
        try {
          c = issuer.issue(request, actorOf(req.caller!.account), `${t.crimeRef ?? ''}: ${req.body.reason}`.slice(0, 2000));
        } catch (err) {
          throw new WebError(409, (err as Error).message, { code: 'cannot_send' });
        }
        req.reply.code(201);
        return commandView(c);
      },
    }),
    consoleRoute({
      method: 'GET',
      url: '/api/v1/cases/:id/masters/:envelope',
      access: 'supervisor',
      summary: 'Download one master clip the force holds (MPEG-TS, as the camera recorded it); audited with its SHA-256 and the crime reference.',
      schema: { params: Type.Object({ id: Id, envelope: Type.String({ pattern: '^[0-9a-f]{32}$' }) }, closed) },
      handler: ({ caller, params, reply }) => {
        const t = caseOf(params.id!);
        const m = masters.ofIncident(t.deviceId, t.incidentId).find((x) => x.envelope_id === params.envelope);
        if (!m || !existsSync(m.path)) throw new WebError(404, 'the force holds no such master clip of this case', { code: 'not_found' });
        d.audit.append({ actor: actorOf(caller!.account), action: 'evidence.master_exported', objectIds: [t.incidentId, m.envelope_id], sha256s: [m.sha256], detail: { crime_ref: t.crimeRef, camera: m.camera, bytes: m.bytes, via: 'console' } });
        const file = `${t.incidentId}-${m.camera}-${m.sha256.slice(0, 12)}.ts`.replace(/[^A-Za-z0-9_.-]+/g, '-');
        return reply.type('video/mp2t').header('content-disposition', `attachment; filename="${file}"`).send(createReadStream(m.path));
      },
    }),
  ];
}
