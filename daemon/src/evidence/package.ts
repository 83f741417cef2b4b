import { canonicalBytes } from '../util/canonical.js';
import { HindsightError } from '../util/errors.js';
import { sha256Hex, u32be } from '../crypto/encoding.js';
import { SIG_CONTEXT, signWith, verifyWith, type KeyPairFile } from '../crypto/keys.js';
import { checkPayload, PayloadError, SignedPackageManifestSchema, type PackageManifest, type SignedPackageManifest } from '../protocol/schemas.js';

/**
 * The evidence package: the plaintext inside an envelope. A manifest signed by the device (so the
 * provenance holds even after the envelope is opened and stored), then the files it lists, in order:
 *
 *   u32be(length of signed manifest JSON) || signed manifest (canonical JSON) || file 1 || file 2 ...
 *
 * Master clips stay on the box (they are the native evidence); the package carries their SHA-256.
 */

/** The manifest's types are the wire schema's (protocol/schemas.ts): one definition, no twin to drift. */
export type { PackageManifest, SignedPackageManifest } from '../protocol/schemas.js';
/** A listed file: a plain name (letters, digits, '.', '_' and '-' only, never a path), its kind and hash. */
export type PackageFile = PackageManifest['files'][number];
/** `document`: the extraction manifest and the face analysis record (JSON), for the force's provenance. */
export type PackageFileKind = PackageFile['kind'];
export type ClipRecord = PackageManifest['clips'][number];
/** `embedding_row`: row of the embeddings file holding this subject's embedding (absent in crops-only mode). */
export type SubjectRecord = PackageManifest['subjects'][number];

export class PackageError extends HindsightError {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message, { code: `package_${reason}` });
  }
}

const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const MAX_MANIFEST = 4 * 1024 * 1024;

export function isSafeFileName(name: unknown): name is string {
  return typeof name === 'string' && FILE_NAME.test(name) && !name.includes('..');
}

export function encodePackage(manifest: PackageManifest, files: Map<string, Buffer>, device: KeyPairFile): Buffer {
  for (const f of manifest.files) {
    const data = files.get(f.name);
    if (!data) throw new PackageError('missing_file', `file ${f.name} is listed but not given`);
    if (data.length !== f.bytes || sha256Hex(data) !== f.sha256) throw new PackageError('file_hash', `file ${f.name} changed while packaging`);
  }
  const signed: SignedPackageManifest = { manifest, signer_kid: device.kid, sig: signWith(device, SIG_CONTEXT.package, canonicalBytes(manifest)) };
  const head = canonicalBytes(signed);
  return Buffer.concat([u32be(head.length), head, ...manifest.files.map((f) => files.get(f.name)!)]);
}

export interface DecodedPackage {
  signed: SignedPackageManifest;
  files: Map<string, Buffer>;
}

/** Parse and verify a package: the device signature on the manifest, then each file's size and hash. */
export function decodePackage(pt: Buffer, devicePk: string, expect: { deviceId: string; incidentId: string }): DecodedPackage {
  if (pt.length < 4) throw new PackageError('truncated', 'package is shorter than its header');
  const len = pt.readUInt32BE(0);
  if (len > MAX_MANIFEST || 4 + len > pt.length) throw new PackageError('truncated', 'package manifest length is out of range');
  let parsed: unknown;
  try {
    parsed = JSON.parse(pt.subarray(4, 4 + len).toString('utf8'));
  } catch {
    throw new PackageError('manifest', 'package manifest is not JSON');
  }
  // The version is told apart before the schema, so a newer package says so instead of failing a field.
  const probe = parsed as { manifest?: { v?: unknown; schema?: unknown } } | null;
  if (probe?.manifest?.v !== 1 || probe.manifest.schema !== 'hindsight-package/1') throw new PackageError('manifest', 'unknown package manifest version');
  let signed: SignedPackageManifest;
  try {
    signed = checkPayload(SignedPackageManifestSchema, parsed);
  } catch (err) {
    throw new PackageError('manifest', `package manifest: ${err instanceof PayloadError ? err.message.replace(/^payload /, '') : 'invalid'}`);
  }
  const m = signed.manifest;
  if (!verifyWith(devicePk, SIG_CONTEXT.package, signed.sig, canonicalBytes(m))) throw new PackageError('bad_signature', 'the package manifest signature does not verify');
  if (m.device_id !== expect.deviceId || m.incident_id !== expect.incidentId) throw new PackageError('mismatch', 'package manifest names another device or incident than its envelope');
  checkReferences(m);
  const files = new Map<string, Buffer>();
  let at = 4 + len;
  for (const f of m.files) {
    if (!isSafeFileName(f.name) || files.has(f.name)) throw new PackageError('file_name', `unsafe or duplicate file name ${JSON.stringify(f.name).slice(0, 80)}`);
    if (!Number.isSafeInteger(f.bytes) || f.bytes < 0 || at + f.bytes > pt.length) throw new PackageError('truncated', `file ${f.name} runs past the end of the package`);
    const data = pt.subarray(at, at + f.bytes);
    if (sha256Hex(data) !== f.sha256) throw new PackageError('file_hash', `file ${f.name} does not match its SHA-256`);
    files.set(f.name, data);
    at += f.bytes;
  }
  if (at !== pt.length) throw new PackageError('trailing', `${pt.length - at} bytes after the last file`);
  return { signed, files };
}

/** What the schema cannot say: the manifest's parts agree with one another. */
function checkReferences(m: PackageManifest): void {
  const bad = (message: string): never => {
    throw new PackageError('manifest', `package manifest: ${message}`);
  };
  if (m.window.end < m.window.start) bad('the window ends before it starts');
  if (new Set(m.subjects.map((s) => s.id)).size !== m.subjects.length) bad('two subjects have the same id');
  const byName = new Map(m.files.map((f) => [f.name, f]));
  for (const s of m.subjects) {
    for (const c of s.crops) if (byName.get(c)?.kind !== 'crop') bad(`subject ${s.id} names crop ${c}, which is not a crop file of the package`);
  }
  const rows = m.subjects.filter((s) => s.embedding_row !== undefined).map((s) => s.embedding_row!);
  if (new Set(rows).size !== rows.length) bad('two subjects share an embedding row');
  if (m.embeddings === null) {
    if (rows.length) bad('subjects have embedding rows but the package has no embeddings');
    return;
  }
  const f = byName.get(m.embeddings.file);
  if (f?.kind !== 'embeddings') bad(`the embeddings file ${m.embeddings.file} is not an embeddings file of the package`);
  if (f!.bytes % (m.embeddings.dim * 4) !== 0) bad(`the embeddings file is not a whole number of ${m.embeddings.dim}-float rows`);
  const count = f!.bytes / (m.embeddings.dim * 4);
  if (rows.some((r) => r >= count)) bad(`an embedding row is beyond the ${count} rows of the embeddings file`);
}
