import { rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { EventBus } from '../kernel/events.js';
import type { Db } from '../db/db.js';
import { GapsRepo, type Gap } from '../db/repos/gaps.js';
import { SegmentsRepo, type NewSegment, type Segment } from '../db/repos/segments.js';
import { RUN_FILE } from './ffmpeg-args.js';
import { readableDurationS } from './salvage.js';
import type { SegmentListEntry } from './segment-list.js';
import { WallAnchor } from './wall-anchor.js';

/**
 * Discontinuities shorter than this between two runs are timestamp jitter, not a gap (a real reconnect takes
 * longer than a second).
 */
export const GAP_TOLERANCE_MS = 250;
/** Within a run, a segment starts where the previous one ended unless the estimate moved by more than this. */
const CHAIN_TOLERANCE_MS = 1000;
/**
 * A segment that does not start where the previous one of its run ended (by more than this) means the camera's
 * timestamps jumped (clock reset, wrap): the run's anchor no longer maps stream time to wall time.
 */
const JUMP_TOLERANCE_S = 1;
/** A segment cannot outlast the longest stall bound (the run would have been restarted) plus one segment. */
const MAX_SEGMENT_S = 660;
/** Far beyond any camera (4K H.265 cameras send 8-32 Mbit/s): such a file is not what its times claim. */
const MAX_BITRATE_BPS = 400_000_000;

/** Where indexing stands within one ffmpeg run. */
export class RunCursor {
  readonly anchor = new WallAnchor();
  lastEndUtcMs: number | undefined;
  lastEndS: number | undefined;
  /** End (stream time) of the last listed entry seen, indexed or not: where the next one must start. */
  lastListedEndS: number | undefined;
  segments = 0;
  /** Footage indexed from this run, in ms. */
  recordedMs = 0;
  readonly files = new Set<string>();
  /** Listed segments waiting for the anchor to settle. */
  readonly pending: SegmentListEntry[] = [];

  constructor(readonly runId: string) {}
}

export interface CameraIndexDeps {
  db: Db;
  bus: EventBus;
  log: Logger;
  bufferDir: string;
  ffprobe: string;
}

/**
 * Turns what a camera's ffmpeg runs write into index rows: closed segments with wall-clock UTC times, salvaged
 * partial segments, and the gaps between runs. Each segment row and its gap change commit together.
 */
export class CameraIndex {
  private readonly segments: SegmentsRepo;
  private readonly gaps: GapsRepo;

  constructor(
    readonly cameraId: string,
    private readonly deps: CameraIndexDeps,
  ) {
    this.segments = new SegmentsRepo(deps.db);
    this.gaps = new GapsRepo(deps.db);
  }

  get cameraDir(): string {
    return path.join(this.deps.bufferDir, this.cameraId);
  }

  relPath(file: string): string {
    return `${this.cameraId}/${file}`;
  }

  /**
   * Index the lines of one read of a run's list. Only the newest line was just closed when the list was read:
   * the others closed earlier (the daemon was busy or frozen while ffmpeg went on), so their read time says
   * nothing about their own time and is not fed to the anchor; their times come from the stream's clock.
   */
  indexBatch(run: RunCursor, entries: SegmentListEntry[], observedWallMs: number): Segment[] {
    const out: Segment[] = [];
    entries.forEach((entry, i) => {
      const jumpS = this.jump(run, entry);
      const newest = i === entries.length - 1;
      if (jumpS !== undefined) {
        // index what the old anchor placed, then anchor this segment and the ones after it
        if (run.anchor.offsetMs !== undefined) out.push(...this.flush(run));
        const held = this.hold(run, entry);
        const goesOn = this.moveAnchorAcross(run, jumpS, held && newest ? observedWallMs - entry.endS * 1000 : undefined);
        const why = goesOn ? 'the recording goes on where it was on the wall clock' : 'anchoring the recording to the wall clock again';
        this.deps.log.warn({ camera: this.cameraId, run: run.runId, fromS: run.lastEndS, toS: entry.startS }, `the camera's timestamps jumped; ${why}`);
        if (!goesOn) run.anchor.reset();
        // after a reset its read time is the best known, even when it is not the newest line
        if (held && (newest || !goesOn)) run.anchor.observe(observedWallMs, entry.endS);
      } else if (this.hold(run, entry) && newest) run.anchor.observe(observedWallMs, entry.endS);
    });
    // until the anchor has settled (ffmpeg's start-up burst is over) segments are held back, so early ones are not placed late
    if (run.anchor.settled && run.anchor.offsetMs !== undefined) out.push(...this.flush(run));
    return out;
  }

  /**
   * After a jump of the camera's timestamps by `jumpS`, move the run's anchor by the jump when the footage went
   * on without a hole (the new clock continues on the wall clock where the old one stopped, with every
   * observation made before it: one observation alone would place the footage by its delivery delay); false,
   * leaving the anchor alone, when it did not. `sample` is the new segment's own observation (wall - stream
   * end), when it has one: a segment that closed later than continuity allows (by more than the chaining
   * tolerance) shows a hole.
   */
  private moveAnchorAcross(run: RunCursor, jumpS: number, sample: number | undefined): boolean {
    const before = run.anchor.offsetMs;
    if (before === undefined || run.lastEndS === undefined) return false;
    const moved = before - jumpS * 1000;
    if (sample !== undefined && sample - moved > CHAIN_TOLERANCE_MS) return false;
    run.anchor.shift(jumpS * 1000);
    return true;
  }

  /** True for a list line that is new; it is then held back until the anchor places it. */
  private hold(run: RunCursor, entry: SegmentListEntry): boolean {
    if (RUN_FILE.exec(entry.file)?.[1] !== run.runId || entry.file.endsWith('.csv')) {
      // only names this run's ffmpeg was told to write: an altered list cannot point the index elsewhere
      this.deps.log.warn({ camera: this.cameraId, run: run.runId, file: entry.file.slice(0, 100) }, 'ignored a segment list line that names no segment of its run');
      return false;
    }
    if (run.files.has(entry.file) || this.segments.byPath(this.relPath(entry.file))) {
      run.files.add(entry.file);
      return false;
    }
    if (run.pending.some((p) => p.file === entry.file)) return false; // already held back (a retried batch)
    run.pending.push(entry);
    return true;
  }

  /** How far (s) a new list line starts from where the previous one ended, when that is a jump; else undefined. */
  private jump(run: RunCursor, entry: SegmentListEntry): number | undefined {
    const last = run.lastListedEndS;
    const known = run.files.has(entry.file) || run.pending.some((p) => p.file === entry.file);
    if (!known) run.lastListedEndS = entry.endS;
    return !known && last !== undefined && Math.abs(entry.startS - last) > JUMP_TOLERANCE_S ? entry.startS - last : undefined;
  }

  /** Index a segment of a run left by a previous daemon (recovery primes the run's anchor or continues its segments). */
  indexRecovered(run: RunCursor, entry: SegmentListEntry): Segment[] {
    this.hold(run, entry);
    return this.flush(run);
  }

  /** Index the segments held back while the anchor settled (at once when the run ends). */
  flush(run: RunCursor): Segment[] {
    const out: Segment[] = [];
    // one at a time, so an entry that fails (database busy) stays held back for the next try
    while (run.pending.length) {
      const segment = this.indexEntry(run, run.pending[0]!);
      run.pending.shift();
      if (segment) out.push(segment);
    }
    return out;
  }

  private indexEntry(run: RunCursor, entry: SegmentListEntry): Segment | undefined {
    let startUtcMs: number;
    let endUtcMs: number;
    if (run.anchor.offsetMs === undefined) {
      // recovery of a run whose earlier segments are indexed: continue from them by duration
      if (run.lastEndUtcMs === undefined) return undefined;
      startUtcMs = run.lastEndUtcMs;
      endUtcMs = startUtcMs + (entry.endS - entry.startS) * 1000;
    } else {
      startUtcMs = run.anchor.toWallMs(entry.startS);
      endUtcMs = run.anchor.toWallMs(entry.endS);
      if (run.lastEndUtcMs !== undefined && run.lastEndS === entry.startS && Math.abs(startUtcMs - run.lastEndUtcMs) < CHAIN_TOLERANCE_MS) startUtcMs = run.lastEndUtcMs;
    }
    return this.insert(run, entry.file, { startUtcMs, endUtcMs: Math.max(startUtcMs, endUtcMs), recovered: false }, entry.endS);
  }

  /**
   * A segment file of a run that is not in its list (ffmpeg was killed while writing it): indexed if it is
   * readable, removed otherwise. It continues the run when the run's earlier segments are known, else it is
   * placed by its modification time (its last write is its end).
   */
  async salvage(run: RunCursor, file: string): Promise<Segment | undefined> {
    const full = path.join(this.cameraDir, file);
    if (run.files.has(file) || this.segments.byPath(this.relPath(file))) return undefined;
    let mtimeMs: number;
    try {
      mtimeMs = statSync(full).mtimeMs;
    } catch {
      return undefined;
    }
    const durationS = await readableDurationS(full, this.deps.ffprobe);
    if (durationS === undefined || !(durationS > 0)) {
      rmSync(full, { force: true });
      this.deps.log.warn({ camera: this.cameraId, file }, 'removed an unreadable partial segment left by a stopped ffmpeg');
      return undefined;
    }
    const startUtcMs = run.lastEndUtcMs ?? mtimeMs - durationS * 1000;
    const seg = this.insert(run, file, { startUtcMs, endUtcMs: startUtcMs + durationS * 1000, recovered: true }, undefined);
    if (seg) this.deps.log.info({ camera: this.cameraId, file, durationS: Math.round(durationS * 100) / 100 }, 'salvaged a partial segment');
    return seg;
  }

  private insert(run: RunCursor, file: string, t: { startUtcMs: number; endUtcMs: number; recovered: boolean }, endS: number | undefined): Segment | undefined {
    let bytes: number;
    try {
      bytes = statSync(path.join(this.cameraDir, file)).size;
    } catch {
      this.deps.log.warn({ camera: this.cameraId, file }, 'a listed segment file is missing; not indexed');
      run.files.add(file);
      return undefined;
    }
    const implausible = implausibleSegment(bytes, (t.endUtcMs - t.startUtcMs) / 1000);
    if (implausible) {
      // never footage: an empty or absurd file would make a window look covered
      rmSync(path.join(this.cameraDir, file), { force: true });
      run.files.add(file);
      this.deps.log.warn({ camera: this.cameraId, file, bytes, durationS: (t.endUtcMs - t.startUtcMs) / 1000 }, `removed a segment that is not footage (${implausible}); not indexed`);
      return undefined;
    }
    const row: NewSegment = { cameraId: this.cameraId, path: this.relPath(file), startUtcMs: t.startUtcMs, endUtcMs: t.endUtcMs, bytes, runId: run.runId, recovered: t.recovered };
    const segment = this.deps.db.transaction(() => {
      this.closeGapBefore(row.startUtcMs, run);
      return this.segments.insert(row);
    })();
    run.files.add(file);
    run.lastEndUtcMs = segment.endUtcMs;
    run.lastEndS = endS;
    run.segments += 1;
    run.recordedMs += segment.endUtcMs - segment.startUtcMs;
    this.deps.bus.emit('segment.closed', { cameraId: this.cameraId, segment });
    return segment;
  }

  /** The first segment after an interruption closes the open gap, or records the one nobody opened (a crash). */
  private closeGapBefore(startUtcMs: number, run: RunCursor): void {
    if (this.gaps.close(this.cameraId, startUtcMs)) return;
    if (run.segments > 0) return;
    const previous = this.segments.newest(this.cameraId);
    if (previous && previous.runId !== run.runId && startUtcMs - previous.endUtcMs > GAP_TOLERANCE_MS) {
      this.gaps.insertClosed(this.cameraId, previous.endUtcMs, startUtcMs, 'recording was interrupted (the daemon was not running)');
    }
  }

  /** Open the camera's gap from the end of its newest segment (or `fallbackStartUtcMs` when it has none). */
  openGap(reason: string, fallbackStartUtcMs: number): Gap {
    const start = this.segments.newestEnd(this.cameraId) ?? fallbackStartUtcMs;
    return this.gaps.open(this.cameraId, start, reason);
  }

  newest(): Segment | undefined {
    return this.segments.newest(this.cameraId);
  }

  newestOfRun(runId: string): Segment | undefined {
    return this.segments.newestOfRun(runId);
  }
}

/** Why a segment file cannot be what its list line says (empty, no duration, too long, impossible bitrate). */
export function implausibleSegment(bytes: number, durationS: number): string | undefined {
  if (bytes === 0) return 'the file is empty';
  if (!(durationS > 0)) return 'it has no duration';
  if (durationS > MAX_SEGMENT_S) return `it claims ${Math.round(durationS)} s, longer than any segment can be`;
  if ((bytes * 8) / durationS > MAX_BITRATE_BPS) return `${Math.round(bytes / 1e6)} MB in ${durationS.toFixed(2)} s is beyond any camera's bitrate`;
  return undefined;
}
