import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { EnvelopeError, expectedChunkLength, openEnvelope, verifyManifest, type EnvelopeManifest } from '../crypto/envelope.js';
import type { KeyPairFile } from '../crypto/keys.js';
import { decodePackage, type DecodedPackage } from '../evidence/package.js';
import { EnvelopeManifestSchema, parsePayload } from '../protocol/schemas.js';
import { HindsightError } from '../util/errors.js';

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
  const mFile = path.join(base, 'manifest.json');
  const bFile = path.join(base, 'body.bin');
  if (!existsSync(mFile) || !existsSync(bFile)) {
    throw new HindsightError(`${dir} is not an envelope folder (needs manifest.json and body.bin)`, { code: 'not_envelope' });
  }
  const manifest = parsePayload(EnvelopeManifestSchema, readFileSync(mFile), 1024 * 1024) as EnvelopeManifest;
  verifyManifest(manifest, devicePk, { maxChunks: Number.MAX_SAFE_INTEGER, maxBytes: Number.MAX_SAFE_INTEGER });
  const body = readFileSync(bFile);
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

export function extractPackage(pkg: DecodedPackage, out: string): string[] {
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'package-manifest.json'), JSON.stringify(pkg.signed, null, 2) + '\n');
  const written: string[] = [];
  for (const [name, data] of pkg.files) {
    const file = path.join(out, name);
    writeFileSync(file, data);
    written.push(file);
  }
  return written;
}
