import { describe, expect, it } from 'vitest';
import { parseWhen } from '../../../daemon/src/util/when.js';

const NOW = Date.UTC(2026, 10, 29, 14, 0, 0);

describe('incident time in staff words', () => {
  it.each([
    ['now', NOW],
    ['', NOW],
    ['20 minutes ago', NOW - 20 * 60_000],
    ['20m ago', NOW - 20 * 60_000],
    ['-90s', NOW - 90_000],
    ['1 hour ago', NOW - 3_600_000],
    ['1h30m ago', NOW - 90 * 60_000],
    ['40 seconds ago', NOW - 40_000],
    ['2026-11-29T13:05:00Z', Date.UTC(2026, 10, 29, 13, 5, 0)],
    ['2026-11-29T14:05:00+01:00', Date.UTC(2026, 10, 29, 13, 5, 0)],
  ])('%j', (text, want) => {
    expect(parseWhen(text, NOW)).toBe(want);
  });

  it.each(['yesterday-ish', '20 parsecs ago', '2026-13-45T99:00:00Z', '../../etc/passwd', '20 minutes'])('refuses %j with a hint', (text) => {
    expect(() => parseWhen(text, NOW)).toThrow(/cannot understand the time/);
  });

  it('the same grammar for every command: ahead of now and "in ..." too', () => {
    expect(parseWhen('now-10m', NOW)).toBe(NOW - 600_000);
    expect(parseWhen('now+5m', NOW)).toBe(NOW + 300_000);
    expect(parseWhen('+30s', NOW)).toBe(NOW + 30_000);
    expect(parseWhen('in 5 minutes', NOW)).toBe(NOW + 300_000);
    expect(() => parseWhen('in 5 minutes ago', NOW)).toThrow(/cannot understand the time/);
  });

  it('a time without a zone says to add one', () => {
    expect(() => parseWhen('2026-11-29T13:05:00', NOW)).toThrow(/has no time zone/);
    try {
      parseWhen('2026-11-29 13:05', NOW);
    } catch (err) {
      expect((err as { hint: string }).hint).toMatch(/add Z .*2026-11-29T13:05Z or 2026-11-29T13:05\+01:00/);
    }
  });
});
