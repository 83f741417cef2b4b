import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../../daemon/src/db/db.js';
import { SegmentsRepo } from '../../../daemon/src/db/repos/segments.js';
import { EventBus } from '../../../daemon/src/kernel/events.js';
import { silentLogger } from '../../../daemon/src/log/logger.js';
import { CameraIndex, RunCursor } from '../../../daemon/src/recorder/camera-index.js';
import { newId } from '../../../daemon/src/util/ids.js';
import { tempDir } from '../../helpers/paths.js';

const T0 = Date.UTC(2026, 2, 1, 12, 0, 0);

/** A camera folder with an index on a fresh database, and a run whose segments are written as listed. */
function setUp() {
  const dir = tempDir();
  const bufferDir = path.join(dir, 'buffer');
  mkdirSync(path.join(bufferDir, 'till1'), { recursive: true });
  const db = openDatabase(path.join(dir, 'h.db'));
  const index = new CameraIndex('till1', { db, bus: new EventBus(), log: silentLogger, bufferDir, ffprobe: 'ffprobe' });
  const run = new RunCursor(newId());
  let n = 0;
  /** ffmpeg closed a segment [startS, endS) of stream time; the daemon read its line `delayMs` after its true end. */
  const close = (startS: number, endS: number, trueEndMs: number, delayMs: number) => {
    const file = `${run.runId}_${String(n++).padStart(6, '0')}.ts`;
    writeFileSync(path.join(bufferDir, 'till1', file), Buffer.alloc(188 * 100));
    return index.indexBatch(run, [{ file, startS, endS }], trueEndMs + delayMs);
  };
  return { close, segments: () => new SegmentsRepo(db).forCamera('till1') };
}

describe('camera index: the camera clock jumps while the footage goes on', () => {
  // the delivery delays of the segment closes (a paced relay, a busy daemon): the smallest is the truth
  const delays = [80, 5, 60, 95, 30, 70, 45, 90];

  it('keeps the placement learnt before the jump instead of trusting the one late observation after it', () => {
    const { close, segments } = setUp();
    // 8 segments of 4 s on the camera clock 100-132 s, true wall time T0..T0+32 s
    for (let i = 0; i < 8; i++) close(100 + i * 4, 104 + i * 4, T0 + (i + 1) * 4000, delays[i]!);
    // the camera's clock is reset to 0: the next segment (0-4 s) is seen to close 95 ms late
    close(0, 4, T0 + 36_000, 95);
    close(4, 8, T0 + 40_000, 60);
    const rows = segments();
    expect(rows).toHaveLength(10);
    // placed where it is: 5 ms late (the best observation), before the jump and after it
    expect(rows[0]!.startUtcMs).toBe(T0 + 5);
    expect(rows[8]!.startUtcMs, 'the segment after the jump starts where the one before ended').toBe(rows[7]!.endUtcMs);
    expect(rows[8]!.endUtcMs).toBe(T0 + 36_005);
    expect(rows[9]!.endUtcMs).toBe(T0 + 40_005);
  });

  it('anchors again on the wall clock when the footage after the jump came later than continuity allows (a hole)', () => {
    const { close, segments } = setUp();
    for (let i = 0; i < 8; i++) close(100 + i * 4, 104 + i * 4, T0 + (i + 1) * 4000, delays[i]!);
    // the camera rebooted its clock and sent nothing for 5 s: the next segment ends at T0+41 s
    close(0, 4, T0 + 41_000, 20);
    const rows = segments();
    expect(rows[8]!.endUtcMs).toBe(T0 + 41_020);
    expect(rows[8]!.startUtcMs - rows[7]!.endUtcMs, 'a hole of about 5 s').toBe(5015);
  });
});
