import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runCommand } from '../util/child.js';
import { HindsightError } from '../util/errors.js';
import { sha256File } from '../util/hash.js';
import { lastKeyframeAtOrBefore } from '../util/keyframes.js';
import type { SegmentRef } from './buffer-port.js';
import { coverageOf, gapsIn, type Interval } from './coverage.js';

/** Within a recording run, consecutive segments abut within a frame; below this a hole is not a gap. */
export const GAP_TOLERANCE_MS = 250;

/** One stretch of the clip that maps linearly to wall-clock time (a gap starts a new piece). */
export interface ClipPiece {
  clipOffsetMs: number;
  utcStartMs: number;
  utcEndMs: number;
}

export interface ClipResult {
  file: string;
  sha256: string;
  bytes: number;
  /** Wall-clock time of the clip's first frame: the keyframe at or before the window start. */
  clipStartMs: number;
  clipEndMs: number;
  coverage: number;
  gaps: Interval[];
  pieces: ClipPiece[];
  segments: { id: number; file: string; startMs: number; endMs: number }[];
}

export interface ExtractRequest {
  segments: readonly SegmentRef[];
  fromMs: number;
  toMs: number;
  outFile: string;
  ffmpeg: string;
  ffprobe: string;
  signal?: AbortSignal;
}

/**
 * Cut [fromMs, toMs) out of the buffer as a native master clip: the segments' H.264 is copied, never
 * re-encoded. Concat demuxer with *input-side* -ss/-to, ending exactly at the window end (output-side
 * -ss loses up to a GOP; concat `inpoint` is wrong for MPEG-TS). MPEG-TS seeking is not keyframe-aware
 * and a stream copy then drops frames up to the next keyframe, so -ss alone would start up to a GOP
 * *late*; we find the keyframe at or before the window start ourselves and seek exactly to it.
 * The file is written beside its final name and renamed when complete, so a crash never leaves a half
 * clip under the final name.
 */
export async function extractClip(req: ExtractRequest): Promise<ClipResult | null> {
  const segs = req.segments.filter((s) => s.endMs > req.fromMs && s.startMs < req.toMs).sort((a, b) => a.startMs - b.startMs);
  if (segs.length === 0) return null;

  // Concat time: the demuxer lays files end to end by their durations, so a gap between segments is
  // squeezed out. Map wall-clock times into that timeline explicitly.
  const offsets: number[] = [];
  let acc = 0;
  for (const s of segs) {
    offsets.push(acc);
    acc += s.endMs - s.startMs;
  }
  const first = segs[0]!;
  const lastIdx = segs.length - 1;
  const last = segs[lastIdx]!;
  // the cut starts at the segment's last keyframe at or before the window's start (0: its first frame)
  const keyframeS = await lastKeyframeAtOrBefore(req.ffprobe, first.file, Math.max(0, req.fromMs - first.startMs) / 1000);
  const keyframeMs = Math.floor((keyframeS ?? 0) * 1000 + 1e-6);
  const toMs = offsets[lastIdx]! + (Math.min(req.toMs, last.endMs) - last.startMs);

  await mkdir(path.dirname(req.outFile), { recursive: true });
  const listFile = `${req.outFile}.ffconcat`;
  const partial = `${req.outFile}.partial`;
  // No `duration` lines: the demuxer measures each file from its packets. The index's durations can be a
  // frame short for a segment salvaged after a crash, and a short duration overlaps the next run's first
  // frame (non-monotonic timestamps in the clip).
  const list = ['ffconcat version 1.0', ...segs.map((s) => `file ${quoteConcat(s.file)}`)];
  await writeFile(listFile, list.join('\n') + '\n');
  try {
    const args = [
      '-hide_banner',
      '-nostdin',
      '-loglevel',
      'error',
      '-f',
      'concat',
      '-safe',
      '0',
      '-ss',
      (keyframeMs / 1000).toFixed(3),
      '-to',
      (toMs / 1000).toFixed(3),
      '-i',
      listFile,
      '-map',
      '0',
      '-c',
      'copy',
      '-avoid_negative_ts',
      'make_zero',
      '-f',
      'mpegts',
      '-y',
      partial,
    ];
    const r = await runCommand(req.ffmpeg, args, { timeoutMs: 10 * 60_000, signal: req.signal });
    if (r.code !== 0) {
      throw new HindsightError(`ffmpeg could not cut the clip: ${r.stderr.trim().split('\n').slice(-2).join(' ')}`, { code: 'extract_failed' });
    }
    const sha256 = await sha256File(partial);
    const { size } = await stat(partial);
    await rename(partial, req.outFile);

    const intervals = segs.map((s) => ({ startMs: s.startMs, endMs: s.endMs }));
    const clipStartMs = first.startMs + keyframeMs;
    return {
      file: req.outFile,
      sha256,
      bytes: size,
      clipStartMs,
      clipEndMs: Math.min(req.toMs, last.endMs),
      coverage: coverageOf(intervals, req.fromMs, req.toMs, GAP_TOLERANCE_MS),
      gaps: gapsIn(intervals, req.fromMs, req.toMs, GAP_TOLERANCE_MS),
      pieces: piecesOf(segs, clipStartMs, req.toMs),
      segments: segs.map((s) => ({ id: s.id, file: path.basename(s.file), startMs: s.startMs, endMs: s.endMs })),
    };
  } finally {
    await rm(listFile, { force: true });
    await rm(partial, { force: true });
  }
}

/** Timeline of the clip: consecutive segments that abut form one piece; a gap starts the next. */
function piecesOf(segs: readonly SegmentRef[], clipStartMs: number, toMs: number): ClipPiece[] {
  const pieces: ClipPiece[] = [];
  let clipOffset = 0;
  for (const s of segs) {
    const start = Math.max(s.startMs, clipStartMs);
    const end = Math.min(s.endMs, toMs);
    if (end <= start) continue;
    const prev = pieces[pieces.length - 1];
    if (prev && start - prev.utcEndMs <= GAP_TOLERANCE_MS) prev.utcEndMs = end;
    else pieces.push({ clipOffsetMs: clipOffset, utcStartMs: start, utcEndMs: end });
    clipOffset += end - start;
  }
  return pieces;
}

function quoteConcat(file: string): string {
  return `'${file.replace(/'/g, "'\\''")}'`;
}
