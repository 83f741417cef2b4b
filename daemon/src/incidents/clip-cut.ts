import { open, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runCommand } from '../util/child.js';
import { HindsightError } from '../util/errors.js';
import { sha256File } from '../util/hash.js';
import type { SegmentRef } from './buffer-port.js';
import { cleanKeyframes } from './clip-decode.js';
import { frameDurationS, readClipPackets, readFirstAndLast, readSegmentPackets, type VideoPacket } from './clip-packets.js';
import { coverageOf, coveredParts, gapsIn, without, type Interval } from './coverage.js';

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
  /** Wall-clock time of the clip's first frame (a keyframe at or before the window start when there is one). */
  clipStartMs: number;
  /** Wall-clock time of the clip's last frame... */
  lastFrameMs: number;
  /** ...and of its end (the last frame's end). */
  clipEndMs: number;
  frames: number;
  /** Fraction of the window the clip covers with footage that decodes. */
  coverage: number;
  /** Stretches of the window with no footage in the clip. */
  gaps: Interval[];
  /** Stretches of the clip whose keyframe does not decode (the footage is there but damaged). */
  damaged: Interval[];
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

/** A frame of the buffer: where it is and when it was. */
interface SourceFrame {
  seg: number;
  packet: VideoPacket;
  /** Index of the packet after it in its file, or -1 for the file's last. */
  next: number;
  utcMs: number;
}

/**
 * Cut [fromMs, toMs) out of the buffer as a native master clip: the segments' video is copied, never
 * re-encoded. The cut is made on packets, not by seeking: ffmpeg's input -ss on MPEG-TS through the
 * concat demuxer fails to seek when the wanted keyframe is a segment's first frame ("could not seek to
 * position") and starts a keyframe interval late. So the packet headers of the segments are read (one
 * ffprobe, nothing decoded), the keyframe at or before the window start and the last frame before its
 * end are found, the first and last segment are trimmed at those frames' byte offsets (keeping the
 * file's PAT/PMT), and the pieces are joined with the concat demuxer, which lays runs end to end.
 * The result is then measured, never assumed: its frames are counted and timed by ffprobe and a
 * keyframe decode finds damaged footage; the manifest's times, coverage and gaps come from that.
 * The file is written beside its final name and renamed when complete, so a crash never leaves a half
 * clip under the final name.
 */
export async function extractClip(req: ExtractRequest): Promise<ClipResult | null> {
  const segs = req.segments.filter((s) => s.endMs > req.fromMs && s.startMs < req.toMs).sort((a, b) => a.startMs - b.startMs);
  if (segs.length === 0) return null;

  await mkdir(path.dirname(req.outFile), { recursive: true });
  const listFile = `${req.outFile}.ffconcat`;
  const partial = `${req.outFile}.partial`;
  const trimmed = (n: number): string => `${req.outFile}.piece${n}.partial`;
  try {
    await writeFile(listFile, concatList(segs.map((s) => s.file)));
    const perSeg = await readPackets(req, segs, listFile);
    if (perSeg.every((p) => !p?.length)) await noVideo(segs);
    const frames = framesOf(segs, perSeg);
    const chosen = chooseFrames(frames, req.fromMs, req.toMs);
    if (!chosen) return null;

    // the pieces: each segment the cut touches, trimmed where the cut falls inside it
    const files: string[] = [];
    for (let s = chosen.first.seg; s <= chosen.last.seg; s++) {
      const packets = perSeg[s];
      if (packets === null) {
        files.push(segs[s]!.file); // a segment in the middle: copied whole
        continue;
      }
      if (!packets?.length) continue;
      const from = s === chosen.first.seg ? chosen.first.packet.pos : packets[0]!.pos;
      const to = s === chosen.last.seg && chosen.last.next >= 0 ? packets[chosen.last.next]!.pos : Infinity;
      if (from === packets[0]!.pos && to === Infinity) files.push(segs[s]!.file);
      else files.push(await trimSegment(segs[s]!.file, packets[0]!.pos, from, to, trimmed(s)));
    }
    await writeFile(listFile, concatList(files));
    const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-f', 'concat', '-safe', '0', '-i', listFile, '-map', '0', '-c', 'copy', '-avoid_negative_ts', 'make_zero', '-f', 'mpegts', '-y', partial];
    const r = await runCommand(req.ffmpeg, args, { timeoutMs: 10 * 60_000, signal: req.signal });
    if (r.code !== 0) {
      throw new HindsightError(`ffmpeg could not cut the clip: ${r.stderr.trim().split('\n').slice(-2).join(' ')}`, { code: 'extract_failed' });
    }

    // the hash, the packet read and the keyframe decode each read the whole clip: side by side (and all
    // ended before the clip is renamed or removed)
    const [measuring, hashing] = await Promise.allSettled([measureClip(req, partial, chosen.frames, perSeg.every((p) => p !== null)), sha256File(partial)]);
    if (measuring.status === 'rejected') throw measuring.reason;
    if (hashing.status === 'rejected') throw hashing.reason;
    const measured = measuring.value;
    const sha256 = hashing.value;
    const { size } = await stat(partial);
    await rename(partial, req.outFile);
    return {
      file: req.outFile,
      sha256,
      bytes: size,
      ...measured,
      segments: segs.map((s) => ({ id: s.id, file: path.basename(s.file), startMs: s.startMs, endMs: s.endMs })),
    };
  } finally {
    await rm(listFile, { force: true });
    await rm(partial, { force: true });
    for (let s = 0; s < segs.length; s++) await rm(trimmed(s), { force: true });
  }
}

/**
 * None of the segments holds video: zero-byte segments (a run that died before its first frame) are no
 * footage; files that are missing or unreadable are a damaged buffer, said as such.
 */
async function noVideo(segs: readonly SegmentRef[]): Promise<void> {
  for (const s of segs) {
    const size = await stat(s.file).then((st) => st.size, () => -1);
    if (size !== 0) {
      throw new HindsightError(`could not cut the clip: no readable video in segment ${path.basename(s.file)} (${size < 0 ? 'the file is missing' : `${size} bytes that ffprobe cannot read`})`, {
        code: 'extract_failed',
        hint: 'the buffer file is damaged or was removed; `hindsight buffer status` shows the camera\'s footage',
      });
    }
  }
}

/**
 * The packets of the segments of the window. Where they all abut (one run, no hole), only the first and
 * the last are read: the cut falls in them and the segments between are copied whole. Across a hole
 * every segment is read, to know where each piece of the clip starts.
 */
async function readPackets(req: ExtractRequest, segs: readonly SegmentRef[], listFile: string): Promise<(VideoPacket[] | null)[]> {
  const abut = segs.every((s, i) => i === 0 || s.startMs - segs[i - 1]!.endMs <= GAP_TOLERANCE_MS);
  if (abut) {
    const ends = await readFirstAndLast(req.ffprobe, segs.map((s) => s.file), req.signal);
    if (ends[0]!.length && ends[ends.length - 1]!.length) return ends;
  }
  return readSegmentPackets(req.ffprobe, segs.map((s) => s.file), listFile, req.signal);
}

/**
 * Every frame of the segments with its wall-clock time: the segment's start in the index is its first
 * frame's time, and later frames follow at their stream's own spacing.
 */
function framesOf(segs: readonly SegmentRef[], perSeg: readonly (VideoPacket[] | null)[]): SourceFrame[] {
  return perSeg.flatMap((packets, seg) => {
    if (!packets) return [];
    const baseS = Math.min(...packets.map((p) => p.ptsS));
    const startMs = firstFrameMs(segs[seg]!, packets, baseS);
    return packets.map((packet, i) => ({ seg, packet, next: i + 1 < packets.length ? i + 1 : -1, utcMs: startMs + (packet.ptsS - baseS) * 1000 }));
  });
}

/** A run's first segment: `<run>_000000.ts` (ffmpeg-args.ts). */
const FIRST_OF_RUN = /_0+\.ts$/;

/**
 * The time of a segment's first frame shown. It is the segment's start in the index, except for the first
 * segment of a run with B-frames: ffmpeg's segment muxer lists it from its first decode time, frames before
 * its first frame shown. Its end (where the next segment's keyframe starts, listed exactly) is then the
 * sure anchor, and its first frame is as far before that as the frames it holds last.
 */
function firstFrameMs(seg: SegmentRef, packets: readonly VideoPacket[], baseS: number): number {
  if (!FIRST_OF_RUN.test(seg.file)) return seg.startMs;
  const heldMs = Math.max(...packets.map((p) => (p.ptsS - baseS + p.durationS) * 1000));
  const frameMs = Math.min(...packets.map((p) => p.durationS * 1000).filter((d) => d > 0), Infinity);
  const listedMs = seg.endMs - seg.startMs;
  return Number.isFinite(frameMs) && listedMs - heldMs > frameMs / 2 && listedMs - heldMs < 10 * frameMs ? seg.endMs - heldMs : seg.startMs;
}

/**
 * The frames to copy, in decode order: from the last keyframe at or before the window start (the first
 * keyframe when the footage starts later) to the last frame shown before the window end (with B-frames, to
 * the reference frame that frame needs).
 */
function chooseFrames(frames: readonly SourceFrame[], fromMs: number, toMs: number): { frames: SourceFrame[]; first: SourceFrame; last: SourceFrame } | null {
  let start = -1;
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i]!;
    if (!f.packet.key) continue;
    if (f.utcMs <= fromMs + 0.5 || start < 0) start = i;
    if (f.utcMs > fromMs + 0.5) break;
  }
  let end = -1;
  for (let i = frames.length - 1; i >= 0; i--) {
    if (frames[i]!.utcMs < toMs - 0.5) {
      end = i;
      break;
    }
  }
  if (start < 0 || end < start) return null;
  // With B-frames the frames up to `end` include a reference frame shown after the window end (the B-frames
  // before it need it): the B-frames shown between the window end and that frame come too, so the clip shows
  // every frame from its first to its last, with no hole.
  const lastShownMs = Math.max(...frames.slice(start, end + 1).map((f) => f.utcMs));
  while (end + 1 < frames.length && frames[end + 1]!.utcMs < lastShownMs && frames[end + 1]!.seg === frames[end]!.seg) end++;
  const chosen = frames.slice(start, end + 1);
  return { frames: chosen, first: chosen[0]!, last: chosen[chosen.length - 1]! };
}

/** A copy of the bytes [from, to) of an MPEG-TS segment, behind the file's own tables (PAT/PMT before `headerEnd`). */
async function trimSegment(file: string, headerEnd: number, from: number, to: number, out: string): Promise<string> {
  const fd = await open(file, 'r');
  try {
    const { size } = await fd.stat();
    const end = Math.min(size, to);
    const header = Buffer.alloc(headerEnd);
    await fd.read(header, 0, headerEnd, 0);
    const body = Buffer.alloc(Math.max(0, end - from));
    await fd.read(body, 0, body.length, from);
    await writeFile(out, Buffer.concat([header, body]));
    return out;
  } finally {
    await fd.close();
  }
}

/**
 * What the written clip holds, from the clip itself: its frames must be the frames chosen (same count, in
 * order); their times in the clip give each piece's length and the last frame, anchored at the
 * wall-clock time of the piece's first frame; a keyframe decode marks damaged stretches.
 */
async function measureClip(req: ExtractRequest, file: string, chosen: readonly SourceFrame[], allKnown: boolean): Promise<Omit<ClipResult, 'file' | 'sha256' | 'bytes' | 'segments'>> {
  // the keyframe decode runs beside the packet read; whatever fails, it has ended when this returns
  const decoding = cleanKeyframes(req.ffmpeg, file, req.signal);
  decoding.catch(() => undefined); // seen in measureWith; a failure before that must not count as unhandled
  try {
    return await measureWith(req, file, chosen, allKnown, decoding);
  } finally {
    await decoding.catch(() => undefined);
  }
}

async function measureWith(req: ExtractRequest, file: string, chosen: readonly SourceFrame[], allKnown: boolean, decoding: Promise<number[]>): Promise<Omit<ClipResult, 'file' | 'sha256' | 'bytes' | 'segments'>> {
  const packets = await readClipPackets(req.ffprobe, file, req.signal);
  const frameS = frameDurationS(packets);
  const clipBaseS = Math.min(...packets.map((p) => p.ptsS));
  // the earliest and latest frames shown, not decoded: with B-frames the last frame decoded is shown before others
  const firstShownMs = Math.min(...chosen.map((f) => f.utcMs));
  const lastShownMs = Math.max(...chosen.map((f) => f.utcMs));
  if (allKnown && packets.length !== chosen.length) {
    throw new HindsightError(`the cut clip holds ${packets.length} frames where ${chosen.length} were copied`, { code: 'extract_failed' });
  }
  if (!allKnown) {
    // one run: the clip must span from the first chosen frame to the last, within a frame
    const spanS = Math.max(...packets.map((p) => p.ptsS)) - clipBaseS;
    const wantS = (lastShownMs - firstShownMs) / 1000;
    if (Math.abs(spanS - wantS) > 1.5 * frameS) {
      throw new HindsightError(`the cut clip spans ${spanS.toFixed(3)} s where ${wantS.toFixed(3)} s were copied`, { code: 'extract_failed' });
    }
  }

  // pieces: runs of frames whose segments abut (a hole in the index between them starts a new piece);
  // each is [index of its first frame in the clip, wall-clock time of its first frame]
  const starts: [number, number][] = [[0, firstShownMs]];
  if (allKnown) {
    for (let i = 1; i < chosen.length; i++) {
      if (chosen[i]!.seg === chosen[i - 1]!.seg || !startsAfterHole(chosen[i - 1]!, chosen[i]!)) continue;
      starts.push([i, Math.min(...chosen.slice(i).filter((f) => f.seg === chosen[i]!.seg).map((f) => f.utcMs))]);
    }
  }
  const pieces = starts.map(([from, utcStartMs], k) => {
    const inClip = packets.slice(from, starts[k + 1]?.[0] ?? packets.length).map((p) => p.ptsS);
    const firstPtsS = Math.min(...inClip);
    return { firstPtsS, clipOffsetMs: (firstPtsS - clipBaseS) * 1000, utcStartMs, utcEndMs: utcStartMs + (Math.max(...inClip) - firstPtsS + frameS) * 1000 };
  });
  const utcOf = (ptsS: number): number => {
    const piece = [...pieces].reverse().find((p) => ptsS >= p.firstPtsS - 1e-6) ?? pieces[0]!;
    return piece.utcStartMs + (ptsS - piece.firstPtsS) * 1000;
  };

  const keyframes = packets.filter((p) => p.key).map((p) => p.ptsS).sort((a, b) => a - b);
  const clean = await decoding;
  const bad = keyframes.filter((k) => !clean.some((t) => Math.abs(t - k) <= frameS / 2));
  const lastPtsS = Math.max(...packets.map((p) => p.ptsS));
  // adjacent damaged keyframe intervals are one damaged stretch
  const damaged = coveredParts(bad.map((k) => {
    const next = keyframes.find((t) => t > k + 1e-6) ?? lastPtsS + frameS;
    const piece = pieces.find((p) => utcOf(k) >= p.utcStartMs - 0.5 && utcOf(k) < p.utcEndMs);
    return { startMs: Math.round(utcOf(k)), endMs: Math.round(Math.min(utcOf(k) + (next - k) * 1000, piece?.utcEndMs ?? Infinity)) };
  }), -Infinity, Infinity);

  const footage = pieces.map((p) => ({ startMs: p.utcStartMs, endMs: p.utcEndMs }));
  const round = (p: ClipPiece): ClipPiece => ({ clipOffsetMs: Math.round(p.clipOffsetMs), utcStartMs: Math.round(p.utcStartMs), utcEndMs: Math.round(p.utcEndMs) });
  return {
    clipStartMs: Math.round(pieces[0]!.utcStartMs),
    lastFrameMs: Math.round(utcOf(lastPtsS)),
    clipEndMs: Math.round(pieces[pieces.length - 1]!.utcEndMs),
    frames: packets.length,
    coverage: coverageOf(without(footage, damaged), req.fromMs, req.toMs, GAP_TOLERANCE_MS),
    gaps: gapsIn(footage, req.fromMs, req.toMs, GAP_TOLERANCE_MS).map((g) => ({ startMs: Math.round(g.startMs), endMs: Math.round(g.endMs) })),
    damaged,
    pieces: pieces.map(round),
  };
}

/** Whether two frames from different segments have a hole in the index between them. */
function startsAfterHole(a: SourceFrame, b: SourceFrame): boolean {
  return b.utcMs - (a.utcMs + a.packet.durationS * 1000) > GAP_TOLERANCE_MS;
}

function concatList(files: readonly string[]): string {
  // No `duration` lines: the demuxer measures each file from its packets. The index's durations can be a
  // frame short for a segment salvaged after a crash, and a short duration overlaps the next run's first
  // frame (non-monotonic timestamps in the clip).
  return ['ffconcat version 1.0', ...files.map((f) => `file ${quoteConcat(f)}`)].join('\n') + '\n';
}

function quoteConcat(file: string): string {
  return `'${file.replace(/'/g, "'\\''")}'`;
}
