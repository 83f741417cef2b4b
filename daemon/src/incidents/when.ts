import { HindsightError } from '../util/errors.js';

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
 * When did it happen, in the words staff use: "now", "20 minutes ago", "20m ago", "-90s", "1 hour ago",
 * "1h30m ago", or an ISO 8601 time with a zone ("2026-11-29T14:05:00Z", "...+00:00").
 * Returns epoch milliseconds. A local time without a zone is refused: it would be ambiguous evidence.
 */
export function parseWhen(text: string, nowMs: number): number {
  const t = text.trim().toLowerCase();
  if (t === '' || t === 'now') return nowMs;
  const rel = /^(?:-\s*)?((?:\d+(?:\.\d+)?\s*[a-z]+\s*)+?)(?:\s*ago)?$/.exec(t);
  if (rel && (t.startsWith('-') || t.endsWith('ago'))) {
    let total = 0;
    for (const m of rel[1]!.matchAll(/(\d+(?:\.\d+)?)\s*([a-z]+)/g)) {
      const unit = UNITS[m[2]!];
      if (unit === undefined) throw badWhen(text);
      total += Number(m[1]) * unit;
    }
    return nowMs - Math.round(total);
  }
  if (/^\d{4}-\d{2}-\d{2}t\d{2}:\d{2}(:\d{2}(\.\d+)?)?(z|[+-]\d{2}:?\d{2})$/.test(t)) {
    const ms = Date.parse(text.trim());
    if (Number.isFinite(ms)) return ms;
  }
  throw badWhen(text);
}

function badWhen(text: string): HindsightError {
  return new HindsightError(`cannot understand the time ${JSON.stringify(text.slice(0, 60))}`, {
    code: 'bad_time',
    hint: 'say "now", "20 minutes ago", "-90s", or an ISO time with a zone such as 2026-11-29T14:05:00Z',
  });
}
