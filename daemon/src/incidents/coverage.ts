/** Half-open interval [startMs, endMs) in epoch milliseconds. */
export interface Interval {
  startMs: number;
  endMs: number;
}

/** The parts of [fromMs, toMs) covered by `intervals` (merged, ordered). */
export function coveredParts(intervals: readonly Interval[], fromMs: number, toMs: number): Interval[] {
  const clipped = intervals
    .map((i) => ({ startMs: Math.max(i.startMs, fromMs), endMs: Math.min(i.endMs, toMs) }))
    .filter((i) => i.endMs > i.startMs)
    .sort((a, b) => a.startMs - b.startMs);
  const merged: Interval[] = [];
  for (const i of clipped) {
    const last = merged[merged.length - 1];
    if (last && i.startMs <= last.endMs) last.endMs = Math.max(last.endMs, i.endMs);
    else merged.push({ ...i });
  }
  return merged;
}

/**
 * The holes in [fromMs, toMs) not covered by `intervals`. Holes shorter than `toleranceMs` are
 * ignored: consecutive segments of one recording abut within a frame, not exactly.
 */
export function gapsIn(intervals: readonly Interval[], fromMs: number, toMs: number, toleranceMs = 0): Interval[] {
  const gaps: Interval[] = [];
  let cursor = fromMs;
  for (const c of coveredParts(intervals, fromMs, toMs)) {
    if (c.startMs - cursor > toleranceMs) gaps.push({ startMs: cursor, endMs: c.startMs });
    cursor = Math.max(cursor, c.endMs);
  }
  if (toMs - cursor > toleranceMs) gaps.push({ startMs: cursor, endMs: toMs });
  return gaps;
}

/** Fraction of [fromMs, toMs) that is covered, 0..1 (gaps within tolerance count as covered). */
export function coverageOf(intervals: readonly Interval[], fromMs: number, toMs: number, toleranceMs = 0): number {
  const span = toMs - fromMs;
  if (span <= 0) return 0;
  const missing = gapsIn(intervals, fromMs, toMs, toleranceMs).reduce((s, g) => s + (g.endMs - g.startMs), 0);
  return Math.max(0, Math.min(1, 1 - missing / span));
}

/** `intervals` with the `holes` taken out (merged, ordered). */
export function without(intervals: readonly Interval[], holes: readonly Interval[]): Interval[] {
  let parts = coveredParts(intervals, -Infinity, Infinity);
  for (const h of holes) {
    parts = parts.flatMap((p) => {
      if (h.endMs <= p.startMs || h.startMs >= p.endMs) return [p];
      const kept: Interval[] = [];
      if (h.startMs > p.startMs) kept.push({ startMs: p.startMs, endMs: h.startMs });
      if (h.endMs < p.endMs) kept.push({ startMs: h.endMs, endMs: p.endMs });
      return kept;
    });
  }
  return parts;
}
