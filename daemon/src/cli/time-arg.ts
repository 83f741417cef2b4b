import { UsageError } from '../util/errors.js';

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A time on the command line: ISO 8601 with a zone (2026-03-01T14:05:00Z, ...+01:00), or relative to now
 * (now, now-10m, now+30s). A time without a zone is refused: local-time guesses have no place in evidence.
 */
export function parseTimeArg(text: string, nowMs: number, option: string): number {
  const rel = /^now(?:([+-])(\d+(?:\.\d+)?)([smhd]))?$/.exec(text.trim());
  if (rel) return rel[1] ? nowMs + (rel[1] === '-' ? -1 : 1) * Number(rel[2]) * UNIT_MS[rel[3]!]! : nowMs;
  const hasZone = /(Z|[+-]\d\d:?\d\d)$/i.test(text.trim());
  const ms = Date.parse(text);
  if (!hasZone || !Number.isFinite(ms) || !/^\d{4}-\d\d-\d\dT/.test(text.trim())) {
    throw new UsageError(`${option} ${JSON.stringify(text)} is not a time`, { hint: 'write e.g. 2026-03-01T14:05:00Z, 2026-03-01T15:05:00+01:00, now, now-10m or now+30s' });
  }
  return ms;
}
