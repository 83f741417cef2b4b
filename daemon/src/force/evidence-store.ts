import { mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { AuditLog } from '../audit/log.js';
import type { EnvelopeManifest } from '../crypto/envelope.js';
import type { DecodedPackage } from '../evidence/package.js';
import type { Db } from '../db/db.js';
import { createExclusiveFile, ensurePrivateDir, PRIVATE_DIR, resolveInside } from '../util/secure-fs.js';
import { ChunksRepo } from './db/chunks.js';
import { EnvelopesRepo, OpeningTakenOver } from './db/envelopes.js';
import { FilesRepo } from './db/files.js';
import { IncidentsRepo } from './db/incidents.js';
import { SubjectsRepo } from './db/subjects.js';
import { TriageRepo } from './db/triage.js';

export interface StoreContext {
  db: Db;
  audit: AuditLog;
  storeDir: string;
  now: number;
}

export interface StoredEnvelope {
  envelopeId: string;
  deviceId: string;
  incidentId: string;
  msgSeq: number;
  /** The store the force enrolled the device for (its registry), not the name the package claims. */
  store: string;
  /** The device key that signed the envelope and the package. */
  signerKid: string;
  /** The token of this receiver's attempt at opening it (envelopes.opener): only the attempt that still holds it stores. */
  opener: string;
}

/**
 * Persist a fully verified package: files under <store>/<device>/<incident>/<envelope>/ (with the
 * envelope itself, for offline verification), then in one transaction the incident, file and subject
 * rows (embeddings as float32 blobs), the envelope's `stored` state and the audit row. Returns the folder.
 */
export function storeVerifiedPackage(c: StoreContext, e: StoredEnvelope, m: EnvelopeManifest, chunks: Buffer[], pkg: DecodedPackage): string {
  const dir = placeFiles(c, e, writeFiles(c.storeDir, e, m, chunks, pkg));
  try {
    recordPackage(c, e, m, pkg, dir);
  } catch (err) {
    // no plaintext without its record: the files go when the rows could not be written; but a receiver that
    // took the envelope over owns the folder now, and stores it
    if (!(err instanceof OpeningTakenOver)) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return dir;
}

/**
 * Move an attempt's finished folder `tmp` into its place, if the attempt still holds the envelope (which
 * also keeps any sweep away for another quiet period, so none takes it over before the rows commit). A
 * folder already there is a dead attempt's (a receiver stopped between this move and its commit): replaced.
 */
function placeFiles(c: StoreContext, e: StoredEnvelope, { dir, tmp }: { dir: string; tmp: string }): string {
  try {
    if (!new EnvelopesRepo(c.db).stillOpening(e.envelopeId, e.opener, c.now)) throw new OpeningTakenOver(e.envelopeId);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return dir;
}

/** The suffix of an attempt's temporary folder or file: its own, so two attempts never write into one. */
export const partSuffix = (e: StoredEnvelope): string => `.part-${e.opener}`;

function recordPackage(c: StoreContext, e: StoredEnvelope, m: EnvelopeManifest, pkg: DecodedPackage, dir: string): void {
  const pm = pkg.signed.manifest;
  const files = new FilesRepo(c.db);
  const subjects = new SubjectsRepo(c.db);
  c.db.transaction(() => {
    const verified = JSON.stringify({ envelope_signature: 'ok', body_sha256: 'ok', package_signature: 'ok', files: pkg.files.size });
    new IncidentsRepo(c.db).add({ envelopeId: e.envelopeId, incidentId: e.incidentId, deviceId: e.deviceId, store: e.store, windowStart: pm.window.start, windowEnd: pm.window.end, receivedUtc: c.now, dir, manifest: JSON.stringify(pkg.signed), verified, signerKid: e.signerKid });
    for (const f of pm.files) files.add(e.envelopeId, { name: f.name, kind: f.kind, sha256: f.sha256, bytes: f.bytes, path: path.join(dir, 'files', f.name) });
    const emb = pm.embeddings ? pkg.files.get(pm.embeddings.file) : undefined;
    const dim = pm.embeddings?.dim ?? 0;
    for (const s of pm.subjects) {
      const vec = emb && s.embedding_row !== undefined && dim ? emb.subarray(s.embedding_row * dim * 4, (s.embedding_row + 1) * dim * 4) : null;
      subjects.add(e.envelopeId, { subjectId: s.id, cameras: s.cameras, crops: s.crops, firstSeen: s.first_seen ?? pm.window.start, model: pm.embeddings?.model ?? null, embedding: vec && vec.length === dim * 4 ? Buffer.from(vec) : null });
    }
    // nothing of it is searched or shown until an officer triages it (workbench.ts)
    new TriageRepo(c.db).add(e.envelopeId, e.incidentId, e.deviceId, c.now);
    new EnvelopesRepo(c.db).setStored(e.envelopeId, c.now, e.opener);
    new ChunksRepo(c.db).deleteAll(e.envelopeId);
    c.audit.append({
      actor: { type: 'device', id: e.deviceId },
      action: 'evidence.received',
      objectIds: [e.incidentId, e.envelopeId],
      sha256s: [m.body_sha256, ...pm.files.map((f) => f.sha256)],
      detail: { store: e.store, ...(pm.store === e.store ? {} : { claimed_store: pm.store }), subjects: pm.subjects.length, files: pm.files.length, msg_seq: e.msgSeq, signer_kid: e.signerKid },
    });
  })();
}

/**
 * Written to this attempt's own temporary folder (placeFiles moves it into place), so a half-written folder
 * is never taken as stored. Folders 0700 and files 0600 whatever the umask; every path checked to stay
 * inside the store. Returns the folder's place and the temporary folder.
 */
function writeFiles(storeDir: string, e: StoredEnvelope, m: EnvelopeManifest, chunks: Buffer[], pkg: DecodedPackage): { dir: string; tmp: string } {
  const dir = resolveInside(storeDir, e.deviceId, e.incidentId, e.envelopeId);
  const tmp = `${dir}${partSuffix(e)}`;
  // The store itself may be a link an administrator made; nothing inside it may be.
  ensurePrivateDir(storeDir);
  ensurePrivateDir(path.dirname(path.dirname(dir)), PRIVATE_DIR, true);
  ensurePrivateDir(path.dirname(dir), PRIVATE_DIR, true);
  rmSync(tmp, { recursive: true, force: true });
  try {
    mkdirSync(tmp, { mode: PRIVATE_DIR });
    ensurePrivateDir(path.join(tmp, 'envelope'), PRIVATE_DIR, true);
    ensurePrivateDir(path.join(tmp, 'files'), PRIVATE_DIR, true);
    createExclusiveFile(path.join(tmp, 'envelope', 'manifest.json'), JSON.stringify(m, null, 2) + '\n');
    createExclusiveFile(path.join(tmp, 'envelope', 'body.bin'), Buffer.concat(chunks));
    createExclusiveFile(path.join(tmp, 'package-manifest.json'), JSON.stringify(pkg.signed, null, 2) + '\n');
    for (const [name, data] of pkg.files) createExclusiveFile(resolveInside(path.join(tmp, 'files'), name), data);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return { dir, tmp };
}
