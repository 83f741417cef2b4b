/**
 * Canonical JSON (RFC 8785 style): object keys sorted by UTF-16 code units, no whitespace, numbers in
 * ECMAScript shortest form, strings JSON-escaped. Everything that is hashed or signed (audit rows,
 * manifests, envelope headers, commands, receipts) is encoded with this, so the same value always
 * gives the same bytes on the box and at the force.
 */
export function canonicalJson(value: unknown): string {
  return encode(value, 0);
}

export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}

function encode(value: unknown, depth: number): string {
  if (depth > 64) throw new TypeError('canonical JSON: nesting too deep');
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonical JSON: ${value} is not a finite number`);
      return JSON.stringify(value);
    case 'string':
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v) => encode(v, depth + 1)).join(',')}]`;
      const keys = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined);
      keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${keys.map((k) => `${JSON.stringify(k)}:${encode((value as Record<string, unknown>)[k], depth + 1)}`).join(',')}}`;
    }
    default:
      throw new TypeError(`canonical JSON: cannot encode a ${typeof value}`);
  }
}
