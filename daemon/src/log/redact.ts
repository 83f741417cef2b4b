/**
 * Secret scrubbing for everything that is logged or returned in an error. Two layers:
 * - keys whose name says "secret" (password, token, private key, credentials, cookie...) lose their value;
 * - strings lose URL userinfo (rtsp://user:pass@cam -> rtsp://***@cam) and `password=...` pairs.
 */

export const REDACTED = '[redacted]';

const SECRET_KEY =
  /(pass(word|wd|phrase)?|secret|token|credential|authori[sz]ation|cookie|private[_-]?key|signing[_-]?key|api[_-]?key|session[_-]?id|^key$|_key$|^pin$|^sk$|^cek$)/i;

const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@'"<>]+@/gi;
const KV_SECRET = /\b(pass(?:word|wd)?|secret|token|api[_-]?key|pin)=([^&\s'"]+)/gi;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

export function redactString(value: string): string {
  return value.replace(URL_USERINFO, '$1***@').replace(KV_SECRET, `$1=${REDACTED}`);
}

/** A deep copy of `value` with secrets removed. Cycles and depth are bounded. */
export function redactValue(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8) return '[depth]';
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1, seen));
  if (value instanceof Error) {
    const out: Record<string, unknown> = {
      type: value.name,
      message: redactString(value.message),
      stack: value.stack ? redactString(value.stack) : undefined,
    };
    for (const [k, v] of Object.entries(value)) out[k] = isSecretKey(k) ? REDACTED : redactValue(v, depth + 1, seen);
    if (value.cause !== undefined) out.cause = redactValue(value.cause, depth + 1, seen);
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSecretKey(k) && v !== undefined && v !== null && typeof v !== 'boolean' ? REDACTED : redactValue(v, depth + 1, seen);
  }
  return out;
}
