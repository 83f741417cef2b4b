import { readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { CameraIndex } from './camera-index.js';
import { RunCursor } from './camera-index.js';
import { RUN_FILE } from './ffmpeg-args.js';
import { SegmentListTail } from './segment-list.js';

/**
 * After a run's ffmpeg has exited: index what its list still holds, salvage segments missing from the list
 * (written when ffmpeg was killed), then drop the list. Leaving the list until the end means a crash in here
 * is finished by the next start-up's recovery.
 */
export async function finishRun(index: CameraIndex, run: RunCursor, tail: SegmentListTail, observedWallMs: number): Promise<void> {
  index.indexBatch(run, tail.read(), observedWallMs);
  index.flush(run);
  for (const file of runSegmentFiles(index.cameraDir, run.runId)) await index.salvage(run, file);
  rmSync(tail.file, { force: true });
}

/** The run's segment files in the order they were written. */
function runSegmentFiles(dir: string, runId: string): string[] {
  return listDir(dir)
    .filter((f) => f.endsWith('.ts') && RUN_FILE.exec(f)?.[1] === runId)
    .sort();
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * Start-up recovery of one camera folder after the daemon stopped without finishing its runs (kill -9, power
 * cut): every run that still has a list is finished as above; its missing segments are placed on the wall
 * clock by the modification times of their files (a file's last write is its end) or continue from the run's
 * indexed segments. Files of no known run are salvaged the same way.
 */
export async function recoverCameraDir(index: CameraIndex, knownPaths: Set<string>): Promise<{ runs: number }> {
  const dir = index.cameraDir;
  const files = listDir(dir);
  const lists = files.filter((f) => f.endsWith('.csv') && RUN_FILE.test(f));
  for (const list of lists) {
    const runId = RUN_FILE.exec(list)![1]!;
    const run = new RunCursor(runId);
    const tail = new SegmentListTail(path.join(dir, list));
    const entries = tail.read().filter((e) => !knownPaths.has(index.relPath(e.file)));
    const before = index.newestOfRun(runId);
    if (before) run.lastEndUtcMs = before.endUtcMs;
    else primeAnchor(run, dir, entries);
    for (const e of entries) index.indexRecovered(run, e);
    for (const file of runSegmentFiles(dir, runId)) if (!knownPaths.has(index.relPath(file))) await index.salvage(run, file);
    rmSync(tail.file, { force: true });
  }
  const listed = new Set(lists.map((l) => RUN_FILE.exec(l)![1]!));
  const strays = files.filter((f) => f.endsWith('.ts') && RUN_FILE.test(f) && !listed.has(RUN_FILE.exec(f)![1]!) && !knownPaths.has(index.relPath(f)));
  for (const f of strays.sort()) await index.salvage(new RunCursor(RUN_FILE.exec(f)![1]!), f);
  return { runs: lists.length };
}

function primeAnchor(run: RunCursor, dir: string, entries: { file: string; endS: number }[]): void {
  for (const e of entries) {
    try {
      run.anchor.observe(statSync(path.join(dir, e.file)).mtimeMs, e.endS);
    } catch {
      /* missing file: skipped when indexing */
    }
  }
}

