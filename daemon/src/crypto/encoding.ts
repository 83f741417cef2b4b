import { createHash } from 'node:crypto';
import { HindsightError } from '../util/errors.js';

/** Binary values cross JSON as unpadded base64url; anything else is refused rather than guessed. */
const B64URL = /^[A-Za-z0-9_-]*$/;

export function b64u(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

export function fromB64u(value: unknown, what: string, expectedLength?: number): Buffer {
  if (typeof value !== 'string' || !B64URL.test(value)) {
    throw new HindsightError(`${what} is not base64url`, { code: 'bad_encoding' });
  }
  const out = Buffer.from(value, 'base64url');
  // Reject non-canonical encodings (trailing bits) so one value has exactly one spelling.
  if (out.toString('base64url') !== value) throw new HindsightError(`${what} is not canonical base64url`, { code: 'bad_encoding' });
  if (expectedLength !== undefined && out.length !== expectedLength) {
    throw new HindsightError(`${what} must be ${expectedLength} bytes, not ${out.length}`, { code: 'bad_encoding' });
  }
  return out;
}

export function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

export function sha256Hex(...parts: Uint8Array[]): string {
  return sha256(...parts).toString('hex');
}

export function u32be(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** A fresh copy that owns its ArrayBuffer (Node Buffers may share a pool; WebCrypto views must not). */
export function ownBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(bytes.byteLength);
  out.set(bytes);
  return out;
}
