import { UsageError } from './errors.js';

/**
 * Well-formed text. A JavaScript string may hold a lone UTF-16 surrogate (from a JSON `"\ud800"` escape,
 * a YAML escape or a truncation between the two halves of a pair); it has no UTF-8 form, so SQLite, files
 * and the network replace it with U+FFFD and the stored text differs from the text that was hashed or
 * signed. Every input boundary (CLI arguments, config files, the control API, MQTT payloads) and the audit
 * log refuse such text, so what is hashed is exactly what is stored.
 */

const LONE_SURROGATE = /\p{Surrogate}/u;

/** True when `s` has no lone surrogate (it encodes to UTF-8 and back unchanged). */
export function isWellFormedText(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

/**
 * The path (`justification`, `actor.id`, `cameras[2].name`) of the first string, or object key, in
 * `value` that is not well-formed text; undefined when every one is.
 */
export function illFormedTextPath(value: unknown, at = ''): string | undefined {
  if (typeof value === 'string') return isWellFormedText(value) ? undefined : at || 'the text';
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const bad = illFormedTextPath(value[i], `${at}[${i}]`);
      if (bad !== undefined) return bad;
    }
    return undefined;
  }
  if (typeof value === 'object' && value !== null && !Buffer.isBuffer(value) && !ArrayBuffer.isView(value)) {
    for (const [k, v] of Object.entries(value)) {
      const key = at ? `${at}.${k}` : k;
      if (!isWellFormedText(k)) return at ? `a field name in ${at}` : 'a field name';
      const bad = illFormedTextPath(v, key);
      if (bad !== undefined) return bad;
    }
  }
  return undefined;
}

export const ILL_FORMED_HINT = 'remove the broken character (a lone UTF-16 surrogate, e.g. a "\\ud800" escape) and send the text again';

/** Throws a UsageError naming the field when any string in `value` is not well-formed text. */
export function assertWellFormedText(value: unknown, what: string): void {
  const bad = illFormedTextPath(value);
  if (bad === undefined) return;
  throw new UsageError(`${what}: ${bad} is not valid Unicode text (it holds a lone UTF-16 surrogate)`, { code: 'ill_formed_text', hint: ILL_FORMED_HINT });
}

/** The first `max` UTF-16 units of `s`, never cutting a surrogate pair in half. */
export function clipText(s: string, max: number): string {
  if (s.length <= max) return s;
  const cut = s.slice(0, max);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}

/** `s` with each lone surrogate replaced by U+FFFD (for quoting untrusted text in a record of its refusal). */
export function toWellFormedText(s: string): string {
  return s.replace(/\p{Surrogate}/gu, '\uFFFD');
}
