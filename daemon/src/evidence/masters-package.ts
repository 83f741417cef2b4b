import { sha256Hex, u32be } from '../crypto/encoding.js';
import { SIG_CONTEXT, signWith, verifyWith, type KeyPairFile } from '../crypto/keys.js';
import { checkPayload, PayloadError, SignedMastersManifestSchema, type MastersManifest, type SignedMastersManifest } from '../protocol/schemas.js';
import { canonicalBytes } from '../util/canonical.js';
import { PackageError } from './package.js';

/**
 * An incident's master clip for the force (its `upload_masters`): the plaintext of one envelope, laid out
 * like an evidence package, a manifest signed by the device then the clip's bytes:
 *
 *   u32be(length of signed manifest JSON) || signed manifest (canonical JSON) || clip bytes
 *
 * One clip per envelope keeps each envelope within the force's size cap and lets each arrive on its own.
 */

export const MASTERS_SCHEMA = 'hindsight-masters/1';
const MAX_MANIFEST = 64 * 1024;

export function encodeMastersPackage(manifest: MastersManifest, clip: Buffer, device: KeyPairFile): Buffer {
  if (clip.length !== manifest.bytes || sha256Hex(clip) !== manifest.sha256) throw new PackageError('file_hash', `master clip ${manifest.name} changed while packaging`);
  const signed: SignedMastersManifest = { manifest, signer_kid: device.kid, sig: signWith(device, SIG_CONTEXT.masters, canonicalBytes(manifest)) };
  const head = canonicalBytes(signed);
  return Buffer.concat([u32be(head.length), head, clip]);
}

/** The package schema a plaintext names, read before anything is trusted (to tell evidence from master clips). */
export function packageSchemaOf(pt: Buffer): string | undefined {
  if (pt.length < 4) return undefined;
  const len = pt.readUInt32BE(0);
  if (len > 4 * 1024 * 1024 || 4 + len > pt.length) return undefined;
  try {
    const probe = JSON.parse(pt.subarray(4, 4 + len).toString('utf8')) as { manifest?: { schema?: unknown } } | null;
    return typeof probe?.manifest?.schema === 'string' ? probe.manifest.schema : undefined;
  } catch {
    return undefined;
  }
}

export interface DecodedMasters {
  signed: SignedMastersManifest;
  clip: Buffer;
}

/** Parse and verify: the device signature on the manifest, that it names this device and incident, the clip's size and hash. */
export function decodeMastersPackage(pt: Buffer, devicePk: string, expect: { deviceId: string; incidentId: string }): DecodedMasters {
  if (pt.length < 4) throw new PackageError('truncated', 'package is shorter than its header');
  const len = pt.readUInt32BE(0);
  if (len > MAX_MANIFEST || 4 + len > pt.length) throw new PackageError('truncated', 'package manifest length is out of range');
  let signed: SignedMastersManifest;
  try {
    signed = checkPayload(SignedMastersManifestSchema, JSON.parse(pt.subarray(4, 4 + len).toString('utf8')));
  } catch (err) {
    throw new PackageError('manifest', `master clip manifest: ${err instanceof PayloadError ? err.message.replace(/^payload /, '') : 'not JSON'}`);
  }
  const m = signed.manifest;
  if (!verifyWith(devicePk, SIG_CONTEXT.masters, signed.sig, canonicalBytes(m))) throw new PackageError('bad_signature', 'the master clip manifest signature does not verify');
  if (m.device_id !== expect.deviceId || m.incident_id !== expect.incidentId) throw new PackageError('mismatch', 'master clip manifest names another device or incident than its envelope');
  const clip = pt.subarray(4 + len);
  if (clip.length !== m.bytes) throw new PackageError('truncated', `master clip ${m.name} has ${clip.length} bytes, its manifest says ${m.bytes}`);
  if (sha256Hex(clip) !== m.sha256) throw new PackageError('file_hash', `master clip ${m.name} does not match its SHA-256`);
  return { signed, clip };
}
