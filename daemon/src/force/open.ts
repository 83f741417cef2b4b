import { existsSync, realpathSync } from 'node:fs';
import type { Db } from '../db/db.js';
import { sha256Hex } from '../crypto/encoding.js';
import { errorMessage } from '../util/errors.js';
import path from 'node:path';
import { EnvelopeError, expectedChunkLength, openEnvelope, verifyManifest, type EnvelopeManifest } from '../crypto/envelope.js';
import type { KeyPairFile } from '../crypto/keys.js';
import { decodePackage, type DecodedPackage } from '../evidence/package.js';
import { EnvelopeManifestSchema, parsePayload } from '../protocol/schemas.js';
import { HindsightError } from '../util/errors.js';
import { ensurePrivateDir, readNoFollow, resolveInside, writePrivateFile } from '../util/secure-fs.js';
import { FilesRepo } from './db/files.js';
import { IncidentsRepo, type IncidentRow } from './db/incidents.js';
import { DeviceRegistry } from './registry.js';

export type { IncidentRow } from './db/incidents.js';

/**
 * Offline verification of a stored (or exported) envelope folder: `manifest.json` + `body.bin` (the
 * chunk ciphertexts in order). Checks the device signature, the body hash, decrypts with the force's
 * recipient keys, then checks the inner signed manifest and every file hash. Nothing needs the broker.
 */
export interface OpenedEnvelope {
  manifest: EnvelopeManifest;
  pkg: DecodedPackage;
}

export async function openEnvelopeDir(dir: string, devicePk: string, recipientKeys: KeyPairFile[]): Promise<OpenedEnvelope> {
  const base = existsSync(path.join(dir, 'envelope', 'manifest.json')) ? path.join(dir, 'envelope') : dir;
  // Each file is opened once, without following a link, and read from the descriptor that was checked.
  const read = (name: string): Buffer => {
    try {
      return readNoFollow(path.join(base, name)).data;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new HindsightError(`${dir} is not an envelope folder (needs manifest.json and body.bin)`, { code: 'not_envelope' });
      throw err;
    }
  };
  const manifest = parsePayload(EnvelopeManifestSchema, read('manifest.json'), 1024 * 1024);
  verifyManifest(manifest, devicePk, { maxChunks: Number.MAX_SAFE_INTEGER, maxBytes: Number.MAX_SAFE_INTEGER });
  const body = read('body.bin');
  const chunks: Buffer[] = [];
  let at = 0;
  for (let i = 0; i < manifest.n_chunks; i++) {
    const len = expectedChunkLength(manifest.header, i, manifest.n_chunks);
    chunks.push(body.subarray(at, at + len));
    at += len;
  }
  if (at !== body.length) throw new EnvelopeError('wrong_total', `body.bin has ${body.length} bytes, the manifest implies ${at}`);
  const pt = await openEnvelope(manifest, chunks, recipientKeys);
  const pkg = decodePackage(pt, devicePk, { deviceId: manifest.header.device_id, incidentId: manifest.header.incident_id });
  return { manifest, pkg };
}

/** OUT/package-manifest.json and the package files in OUT/files/, where no file name can reach the manifest. */
export function extractPackage(pkg: DecodedPackage, out: string): string[] {
  ensurePrivateDir(out);
  ensurePrivateDir(path.join(out, 'files'), undefined, true);
  writePrivateFile(path.join(out, 'package-manifest.json'), JSON.stringify(pkg.signed, null, 2) + '\n');
  const written: string[] = [];
  for (const [name, data] of pkg.files) {
    const file = resolveInside(path.join(out, 'files'), name);
    writePrivateFile(file, data);
    written.push(file);
  }
  return written;
}

/** Every stored incident, oldest received first, with its subject and file counts. */
export function listIncidents(db: Db): IncidentRow[] {
  return new IncidentsRepo(db).list();
}

/**
 * Verify a stored incident again: the envelope offline, then each stored file against its recorded hash.
 * Recorded paths must stay inside the store (`storeDir`) and the incident's own folder; no link is followed.
 */
export async function reverify(db: Db, row: IncidentRow, recipientKeys: KeyPairFile[], storeDir?: string): Promise<string> {
  // the key that signed it, even when the box has had another key registered since
  const pk = row.signer_kid ? new DeviceRegistry(db).keyOf(row.device_id, row.signer_kid) : undefined;
  if (!pk) return `FAILED: device key ${row.signer_kid ?? ''} unknown`;
  try {
    // lexically and after resolving links: a folder swapped for a link out of the store is refused
    if (storeDir) resolveInside(realpathSync(storeDir), realpathSync(resolveInside(storeDir, row.dir)));
    await openEnvelopeDir(row.dir, pk, recipientKeys);
  } catch (err) {
    return `FAILED: ${errorMessage(err)}`;
  }
  for (const f of new FilesRepo(db).ofEnvelope(row.envelope_id)) {
    let data: Buffer;
    try {
      const want = resolveInside(row.dir, 'files', f.name);
      if (path.resolve(f.path) !== want || realpathSync(path.dirname(want)) !== path.join(realpathSync(row.dir), 'files')) return `FAILED: stored file ${f.name} is recorded outside its incident folder`;
      data = readNoFollow(f.path).data;
    } catch {
      return `FAILED: stored file ${f.name} is missing or altered`;
    }
    if (sha256Hex(data) !== f.sha256) return `FAILED: stored file ${f.name} is missing or altered`;
  }
  return 'ok';
}
