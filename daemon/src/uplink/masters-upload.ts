import { existsSync, lstatSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { AppContext } from '../kernel/context.js';
import { sha256Hex } from '../crypto/encoding.js';
import { IncidentsRepo } from '../db/repos/incidents.js';
import { encodeMastersPackage, MASTERS_SCHEMA } from '../evidence/masters-package.js';
import { HindsightError } from '../util/errors.js';
import { assertSafeId } from '../util/ids.js';
import { resolveInside } from '../util/secure-fs.js';
import type { Outbox } from './outbox.js';
import { createSealer } from './sealer.js';

/** What an `upload_masters` command will send: each camera's master clip, checked before anything is sealed. */
export interface MastersPlan {
  incidentId: string;
  by: string;
  clips: { camera: string; path: string; sha256: string; bytes: number }[];
}

export interface MastersSent {
  incident_id: string;
  envelopes: { camera: string; envelope_id: string; sha256: string; bytes: number }[];
  /** Envelopes of an earlier upload of this incident still on their way (then nothing new is sealed). */
  already_queued: string[];
}

/** Master clips larger than this are refused (one clip per envelope; the force's default cap is 256 MiB). */
export const MAX_MASTER_BYTES = 200 * 1024 * 1024;

/**
 * The force's `upload_masters`: an investigator fetches an incident's native master clips (the box keeps
 * them for `incidents.master_retention_days`, longer on a hold). Each clip is sealed to the force like
 * evidence, one envelope per clip, with a device-signed manifest naming its SHA-256, which must equal
 * the hash recorded when the clip was cut (and sent in the incident's evidence manifest). Envelopes go
 * through the outbox, so an upload survives a broken link or a restart like any evidence.
 */
export class MastersUploader {
  constructor(
    private readonly ctx: Pick<AppContext, 'config' | 'paths' | 'db' | 'clock' | 'clockSync' | 'audit' | 'bus'>,
    private readonly outbox: Outbox,
  ) {}

  /** Inside the command's transaction: what would be sent, or why not (throws a HindsightError saying why). */
  plan(incidentId: string, by: string): MastersPlan {
    const repo = new IncidentsRepo(this.ctx.db);
    const incident = repo.get(incidentId);
    if (!incident) throw new HindsightError(`no incident ${incidentId} on this box`, { code: 'not_found' });
    if (incident.state === 'closed' || incident.state === 'cancelled') throw new HindsightError(`incident ${incidentId} is ${incident.state}: its master clips are no longer kept`, { code: 'masters_gone' });
    const clips: MastersPlan['clips'] = [];
    // the incident's folder, as incidents/paths.ts lays it out (the uplink does not import the incidents)
    const dir = path.join(this.ctx.paths.evidenceDir, assertSafeId(incidentId, 'incident id'));
    for (const c of repo.cameras(incidentId)) {
      if (c.clipState !== 'done' || !c.clipPath || !c.clipSha256 || c.clipBytes === null) continue;
      // recorded relative to the incident's folder (master/<camera>.ts)
      const file = resolveInside(dir, c.clipPath);
      if (!existsSync(file)) throw new HindsightError(`the master clip of camera ${c.cameraId} of incident ${incidentId} is missing from the box`, { code: 'masters_gone' });
      if (c.clipBytes > MAX_MASTER_BYTES) throw new HindsightError(`the master clip of camera ${c.cameraId} is ${c.clipBytes} bytes, more than one envelope carries (${MAX_MASTER_BYTES})`, { code: 'master_too_large' });
      clips.push({ camera: c.cameraId, path: file, sha256: c.clipSha256, bytes: c.clipBytes });
    }
    if (!clips.length) throw new HindsightError(`incident ${incidentId} has no master clip cut yet (it is ${incident.state})`, { code: 'no_masters' });
    this.ctx.audit.append({
      actor: { type: 'force', id: by },
      action: 'evidence.masters_requested',
      objectIds: [incidentId],
      sha256s: clips.map((c) => c.sha256),
      detail: { cameras: clips.map((c) => c.camera), bytes: clips.reduce((n, c) => n + c.bytes, 0) },
    });
    return { incidentId, by, clips };
  }

  /** After the command's transaction: seal each clip and queue it (each in its own transaction with its audit row). */
  async send(plan: MastersPlan): Promise<MastersSent> {
    const sealer = createSealer(this.ctx, this.outbox);
    if (!sealer) throw new HindsightError('this box is not enrolled with the force', { code: 'not_enrolled' });
    // an upload already on its way is not sealed twice (a force that asks again while it travels)
    const onItsWay = this.outbox.byIncident(plan.incidentId).filter((e) => e.kind === 'masters' && e.state === 'pending');
    if (onItsWay.length) return { incident_id: plan.incidentId, envelopes: [], already_queued: onItsWay.map((e) => e.envelopeId) };
    const out: MastersSent = { incident_id: plan.incidentId, envelopes: [], already_queued: [] };
    for (const c of plan.clips) {
      if (!lstatSync(c.path).isFile()) throw new HindsightError(`the master clip of camera ${c.camera} is not a regular file`, { code: 'masters_gone' });
      const bytes = readFileSync(c.path);
      // the clip must be the one cut and recorded: a changed file is never sent as the master
      if (bytes.length !== c.bytes || sha256Hex(bytes) !== c.sha256) {
        throw new HindsightError(`the master clip of camera ${c.camera} no longer matches the SHA-256 recorded when it was cut`, { code: 'master_changed', hint: 'the file was altered on the box: keep the box for investigation' });
      }
      const pt = encodeMastersPackage(
        { v: 1, schema: MASTERS_SCHEMA, incident_id: plan.incidentId, device_id: this.ctx.config.device.id, created_at: this.ctx.clock.now(), camera: c.camera, name: path.basename(c.path), sha256: c.sha256, bytes: c.bytes, media_type: 'video/mp2t' },
        bytes,
        sealer.deviceKey,
      );
      const sealed = await sealer.seal(pt, plan.incidentId);
      const envelopeId = sealed.manifest.header.envelope_id;
      this.outbox.enqueue(sealed, { kind: 'masters' });
      out.envelopes.push({ camera: c.camera, envelope_id: envelopeId, sha256: c.sha256, bytes: c.bytes });
      this.ctx.bus.emit('envelope.queued', { envelopeId, incidentId: plan.incidentId });
    }
    return out;
  }
}
