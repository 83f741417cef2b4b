import { renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { DecodedMasters } from '../evidence/masters-package.js';
import { PackageError } from '../evidence/package.js';
import type { SignedPackageManifest } from '../protocol/schemas.js';
import { createExclusiveFile, ensurePrivateDir, PRIVATE_DIR, resolveInside } from '../util/secure-fs.js';
import { ChunksRepo } from './db/chunks.js';
import { EnvelopesRepo, OpeningTakenOver } from './db/envelopes.js';
import { MasterClipsRepo } from './db/master-clips.js';
import { partSuffix, type StoreContext, type StoredEnvelope } from './evidence-store.js';

/**
 * Keep a master clip a box sent on `upload_masters`, once its envelope and signed manifest are verified:
 * only a clip whose SHA-256 (and camera) is among the clips of the incident's stored evidence manifest is
 * kept, as <store>/<device>/<incident>/masters/<camera>-<sha256 prefix>.<ext>; the row, the envelope's
 * `stored` state and the audit row commit together. A clip kept already (asked for twice) is not written
 * again. Throws a PackageError (the envelope is refused for good) for a clip the evidence does not name.
 */
export function storeMasterClip(c: StoreContext, e: StoredEnvelope, decoded: DecodedMasters): string {
  const m = decoded.signed.manifest;
  const repo = new MasterClipsRepo(c.db);
  const evidence = repo.evidenceManifests(e.deviceId, e.incidentId);
  if (!evidence.length) throw new PackageError('no_evidence', `the force holds no evidence of incident ${e.incidentId} from ${e.deviceId} to check its master clip against`);
  const named = evidence.find((ev) => (JSON.parse(ev.manifest) as SignedPackageManifest).manifest.clips.some((k) => k.sha256 === m.sha256 && k.camera === m.camera && k.bytes === m.bytes));
  if (!named) throw new PackageError('master_unknown', `the master clip of camera ${m.camera} (SHA-256 ${m.sha256}) is not a clip of the incident's evidence manifest`);
  const kept = repo.bySha(e.deviceId, e.incidentId, m.sha256);
  const ext = path.extname(m.name).replace(/[^A-Za-z0-9.]/g, '').slice(0, 8) || '.bin';
  const file = kept?.path ?? resolveInside(c.storeDir, e.deviceId, e.incidentId, 'masters', `${m.camera}-${m.sha256.slice(0, 16)}${ext}`);
  if (!kept) {
    ensurePrivateDir(c.storeDir);
    ensurePrivateDir(path.dirname(file), PRIVATE_DIR, true);
    const tmp = `${file}${partSuffix(e)}`;
    rmSync(tmp, { force: true });
    try {
      createExclusiveFile(tmp, decoded.clip, { sync: true });
      // moved into place only while this attempt still holds the envelope (see evidence-store.ts placeFiles)
      if (!new EnvelopesRepo(c.db).stillOpening(e.envelopeId, e.opener, c.now)) throw new OpeningTakenOver(e.envelopeId);
      renameSync(tmp, file);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
  }
  try {
    c.db.transaction(() => {
      repo.add({ envelope_id: e.envelopeId, device_id: e.deviceId, incident_id: e.incidentId, camera: m.camera, name: m.name, sha256: m.sha256, bytes: m.bytes, path: file, received_utc: c.now, evidence_envelope_id: named.envelope_id });
      new EnvelopesRepo(c.db).setStored(e.envelopeId, c.now, e.opener);
      new ChunksRepo(c.db).deleteAll(e.envelopeId);
      c.audit.append({
        actor: { type: 'device', id: e.deviceId },
        action: 'evidence.master_received',
        objectIds: [e.incidentId, e.envelopeId],
        sha256s: [m.sha256],
        detail: { camera: m.camera, bytes: m.bytes, matches_evidence: named.envelope_id, ...(kept ? { already_kept: true } : {}) },
      });
    })();
  } catch (err) {
    // the clip goes when its row could not be written, unless another receiver took the envelope over: it
    // keeps the same clip (same camera and hash, same file) and records it
    if (!kept && !(err instanceof OpeningTakenOver)) rmSync(file, { force: true });
    throw err;
  }
  return file;
}
