// Every segment and gap a soak saw in the daemon's index, kept after retention deleted them, so the whole run's
// timeline of each camera can be checked at the end: a hole between two consecutive segments must be covered by
// a recorded gap, and a segment that disappeared from the index must have been old enough for retention.

/** Milliseconds of [from, to) not covered by any of the intervals (an open gap, end null, runs on forever). */
function uncoveredMs(from, to, intervals) {
  const parts = intervals
    .map((g) => [Math.max(from, g.startUtcMs), Math.min(to, g.endUtcMs ?? Number.POSITIVE_INFINITY)])
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let covered = 0;
  let reach = from;
  for (const [a, b] of parts) {
    if (b <= reach) continue;
    covered += b - Math.max(a, reach);
    reach = b;
  }
  return to - from - covered;
}

export class SegmentLedger {
  /**
   * @param {number} retentionMs the buffer length: a segment may leave the index once it ended this long ago
   * @param {number} toleranceMs holes and uncovered parts up to this are timestamp rounding, not missing footage
   */
  constructor(retentionMs, toleranceMs) {
    this.retentionMs = retentionMs;
    this.toleranceMs = toleranceMs;
    /** id -> segment, every one ever seen */
    this.segments = new Map();
    /** id -> gap as last seen (an open gap closes later) */
    this.gaps = new Map();
    /** ids present at the last observation */
    this.present = new Set();
    this.vanished = { byRetention: 0, early: [] };
  }

  /**
   * One look at the index at `nowMs`: the segments and gaps it holds now (`{id, cameraId, startUtcMs, endUtcMs}`,
   * gaps with `reason`). A segment seen before and missing now is counted as deleted by retention when it ended
   * before `nowMs - retentionMs`; otherwise it is recorded as an early disappearance.
   */
  observe(nowMs, segments, gaps) {
    const now = new Set();
    for (const s of segments) {
      now.add(s.id);
      if (!this.segments.has(s.id)) this.segments.set(s.id, { id: s.id, cameraId: s.cameraId, startUtcMs: s.startUtcMs, endUtcMs: s.endUtcMs });
    }
    for (const id of this.present) {
      if (now.has(id)) continue;
      const s = this.segments.get(id);
      if (s.endUtcMs < nowMs - this.retentionMs) this.vanished.byRetention += 1;
      else this.vanished.early.push({ ...s, missingAtUtcMs: nowMs });
    }
    this.present = now;
    for (const g of gaps) this.gaps.set(g.id, { id: g.id, cameraId: g.cameraId, startUtcMs: g.startUtcMs, endUtcMs: g.endUtcMs, reason: g.reason });
  }

  /** Per camera: segments seen, seconds recorded, holes between consecutive segments, and those no gap explains. */
  report() {
    const cameras = [...new Set([...this.segments.values()].map((s) => s.cameraId))].sort();
    return cameras.map((cameraId) => {
      const segs = [...this.segments.values()].filter((s) => s.cameraId === cameraId).sort((a, b) => a.startUtcMs - b.startUtcMs);
      const gaps = [...this.gaps.values()].filter((g) => g.cameraId === cameraId);
      const holes = [];
      const lost = [];
      for (let i = 1; i < segs.length; i++) {
        const from = segs[i - 1].endUtcMs;
        const to = segs[i].startUtcMs;
        if (to - from <= this.toleranceMs) continue;
        const hole = { fromUtcMs: from, toUtcMs: to, uncoveredMs: uncoveredMs(from, to, gaps) };
        holes.push(hole);
        if (hole.uncoveredMs > this.toleranceMs) lost.push(hole);
      }
      const recordedMs = segs.reduce((n, s) => n + (s.endUtcMs - s.startUtcMs), 0);
      const spanMs = segs.length ? segs[segs.length - 1].endUtcMs - segs[0].startUtcMs : 0;
      return {
        cameraId,
        segments: segs.length,
        recordedS: recordedMs / 1000,
        spanS: spanMs / 1000,
        holes: holes.length,
        lost,
        lostS: lost.reduce((n, h) => n + h.uncoveredMs, 0) / 1000,
        gaps: gaps.map((g) => ({ fromUtcMs: g.startUtcMs, toUtcMs: g.endUtcMs, reason: g.reason })),
      };
    });
  }
}
