import { UsageError } from './errors.js';

const UNITS: Record<string, number> = {
  s: 1000,
  sec: 1000,
  secs: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  mins: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  hrs: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
};

/**
 * One time grammar for every command and the control API, in the words staff use: "now", "20 minutes ago",
 * "20m ago", "-90s", "1h30m ago", "now-10m", "now+5m", "+30s", "in 5 minutes", or an ISO 8601 time with a
 * zone ("2026-11-29T14:05:00Z", "...+01:00"). Returns epoch milliseconds. A time without a zone is refused
 * with that reason: a local-time guess has no place in evidence.
 */
export function parseWhen(text: string, nowMs: number): number {
  const t = text.trim().toLowerCase();
  if (t === '' || t === 'now') return nowMs;
  const rel = /^(now\s*)?([+-]|in\s+)?\s*((?:\d+(?:\.\d+)?\s*[a-z]+\s*)+?)(\s*ago)?$/.exec(t);
  if (rel) {
    const sign = rel[4] || rel[2] === '-' ? -1 : rel[2] ? 1 : 0;
    if (sign !== 0 && !(rel[4] && rel[2])) {
      let total = 0;
      for (const m of rel[3]!.matchAll(/(\d+(?:\.\d+)?)\s*([a-z]+)/g)) {
        const unit = UNITS[m[2]!];
        if (unit === undefined) throw badWhen(text);
        total += Number(m[1]) * unit;
      }
      return nowMs + sign * Math.round(total);
    }
  }
  const iso = /^\d{4}-\d{2}-\d{2}[t ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(z|[+-]\d{2}:?\d{2})?$/.exec(t);
  if (iso) {
    if (!iso[3]) {
      throw new UsageError(`the time ${JSON.stringify(text.slice(0, 60))} has no time zone`, {
        code: 'bad_time',
        hint: `add Z for UTC or the offset of the box's clock, e.g. ${text.trim().replace(' ', 'T')}Z or ${text.trim().replace(' ', 'T')}+01:00`,
      });
    }
    const ms = Date.parse(text.trim().replace(' ', 'T'));
    if (Number.isFinite(ms)) return ms;
  }
  throw badWhen(text);
}

function badWhen(text: string): UsageError {
  return new UsageError(`cannot understand the time ${JSON.stringify(text.slice(0, 60))}`, {
    code: 'bad_time',
    hint: 'say "now", "20 minutes ago", "-90s", "now+5m", or an ISO time with a zone such as 2026-11-29T14:05:00Z',
  });
}

/** A time for a file name: UTC to the second, without separators (`20261207T192800Z`). */
export function fileStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}
