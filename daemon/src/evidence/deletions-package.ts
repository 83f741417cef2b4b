import { u32be } from '../crypto/encoding.js';
import { SIG_CONTEXT, signWith, verifyWith, type KeyPairFile } from '../crypto/keys.js';
import { checkPayload, PayloadError, SignedDeletionsManifestSchema, type DeletionsManifest, type SignedDeletionsManifest } from '../protocol/schemas.js';
import { canonicalBytes } from '../util/canonical.js';
import { PackageError } from './package.js';

/**
 * The box's deletion receipts for the force: the plaintext of one envelope,
 *
 *   u32be(length of signed manifest JSON) || signed manifest (canonical JSON)
 *
 * the manifest listing the audit rows of its deletions since the last report (no files: what was deleted
 * is named by its ids and hashes, never sent).
 */

export const DELETIONS_SCHEMA = 'hindsight-deletions/1';
/** The incident id the envelopes of deletion reports carry (they belong to no one incident). */
export const DELETIONS_INCIDENT = 'deletions';
const MAX_MANIFEST = 8 * 1024 * 1024;

export function encodeDeletionsPackage(manifest: DeletionsManifest, device: KeyPairFile): Buffer {
  const signed: SignedDeletionsManifest = { manifest, signer_kid: device.kid, sig: signWith(device, SIG_CONTEXT.deletions, canonicalBytes(manifest)) };
  const head = canonicalBytes(signed);
  return Buffer.concat([u32be(head.length), head]);
}

/** Parse and verify: the device signature, that it names this device, nothing after the manifest. */
export function decodeDeletionsPackage(pt: Buffer, devicePk: string, deviceId: string): SignedDeletionsManifest {
  if (pt.length < 4) throw new PackageError('truncated', 'package is shorter than its header');
  const len = pt.readUInt32BE(0);
  if (len > MAX_MANIFEST || 4 + len > pt.length) throw new PackageError('truncated', 'package manifest length is out of range');
  if (4 + len !== pt.length) throw new PackageError('trailing', `${pt.length - 4 - len} bytes after the deletion report`);
  let signed: SignedDeletionsManifest;
  try {
    signed = checkPayload(SignedDeletionsManifestSchema, JSON.parse(pt.subarray(4).toString('utf8')));
  } catch (err) {
    throw new PackageError('manifest', `deletion report: ${err instanceof PayloadError ? err.message.replace(/^payload /, '') : 'not JSON'}`);
  }
  if (!verifyWith(devicePk, SIG_CONTEXT.deletions, signed.sig, canonicalBytes(signed.manifest))) throw new PackageError('bad_signature', 'the deletion report signature does not verify');
  if (signed.manifest.device_id !== deviceId) throw new PackageError('mismatch', 'the deletion report names another device than its envelope');
  return signed;
}
