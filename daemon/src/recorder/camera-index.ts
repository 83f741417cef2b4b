import { rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { EventBus } from '../app/events.js';
import type { Db } from '../store/db.js';
import { GapsRepo, type Gap } from '../store/repos/gaps.js';
import { SegmentsRepo, type NewSegment, type Segment } from '../store/repos/segments.js';
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

/** Where indexing stands within one ffmpeg run. */
export class RunCursor {
  readonly anchor = new WallAnchor();
  lastEndUtcMs: number | undefined;
  lastEndS: number | undefined;
  segments = 0;
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
   * Index a segment from the run's list; returns the segments indexed now. `observedWallMs` is when its line
   * appeared (live) and feeds the wall anchor: until the anchor has settled (ffmpeg's start-up burst is over)
   * segments are held back, so early segments are not placed late. Recovery primes the anchor itself and
   * passes undefined.
   */
  indexListed(run: RunCursor, entry: SegmentListEntry, observedWallMs: number | undefined): Segment[] {
    if (RUN_FILE.exec(entry.file)?.[1] !== run.runId || entry.file.endsWith('.csv')) {
      // only names this run's ffmpeg was told to write: an altered list cannot point the index elsewhere
      this.deps.log.warn({ camera: this.cameraId, run: run.runId, file: entry.file.slice(0, 100) }, 'ignored a segment list line that names no segment of its run');
      return [];
    }
    if (run.files.has(entry.file) || this.segments.byPath(this.relPath(entry.file))) {
      run.files.add(entry.file);
      return [];
    }
    if (run.pending.some((p) => p.file === entry.file)) return []; // already held back (a retried batch)
    run.pending.push(entry);
    if (observedWallMs !== undefined) {
      run.anchor.observe(observedWallMs, entry.endS);
      if (!run.anchor.settled) return [];
    }
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
    const row: NewSegment = { cameraId: this.cameraId, path: this.relPath(file), startUtcMs: t.startUtcMs, endUtcMs: t.endUtcMs, bytes, runId: run.runId, recovered: t.recovered };
    const segment = this.deps.db.transaction(() => {
      this.closeGapBefore(row.startUtcMs, run);
      return this.segments.insert(row);
    })();
    run.files.add(file);
    run.lastEndUtcMs = segment.endUtcMs;
    run.lastEndS = endS;
    run.segments += 1;
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
