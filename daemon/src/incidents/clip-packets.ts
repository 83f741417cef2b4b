import { runCommand } from '../util/child.js';
import { HindsightError } from '../util/errors.js';
import { media } from '../util/sandbox.js';

/** One video packet (one frame) as ffprobe reads it from the packet headers; nothing is decoded. */
export interface VideoPacket {
  /** Presentation time, s, on the timeline of what was probed (a concat list starts at 0). */
  ptsS: number;
  /** Display time of the frame, s (0 when the stream does not say). */
  durationS: number;
  /** Byte offset in its own file of the TS packet that starts this frame. */
  pos: number;
  key: boolean;
}

/**
 * The video packets of the first and the last file only (null for the others): enough to cut a window
 * whose segments abut, where the files in between are copied whole. Reading through the concat demuxer
 * opens and probes every file, which costs about as much as the copy itself at 1080p.
 */
export async function readFirstAndLast(ffprobe: string, files: readonly string[], signal?: AbortSignal): Promise<(VideoPacket[] | null)[]> {
  const read = (f: string): Promise<VideoPacket[]> => probePackets(ffprobe, ['-i', f], [f], signal).then((p) => p ?? []);
  if (files.length === 1) return [await read(files[0]!)];
  // the two reads side by side (neither can fail: an unreadable file gives [])
  const [first, last] = await Promise.all([read(files[0]!), read(files[files.length - 1]!)]);
  return [first, ...files.slice(1, -1).map(() => null), last];
}

/**
 * The video packets of each file, in decode order; [] for a file with no readable video. One ffprobe of
 * an ffconcat list reads them all: the concat demuxer's byte offsets start again in each file, so a file
 * boundary shows as an offset that does not grow. When that does not add up (a file without video, or
 * one the demuxer cannot open), each file is read on its own.
 */
export async function readSegmentPackets(ffprobe: string, files: readonly string[], listFile: string, signal?: AbortSignal): Promise<VideoPacket[][]> {
  const all = await probePackets(ffprobe, ['-f', 'concat', '-safe', '0', '-i', listFile], [listFile, ...files], signal);
  if (all) {
    const split = splitByFile(all);
    if (split.length === files.length) return split;
  }
  const each: VideoPacket[][] = [];
  for (const f of files) each.push((await probePackets(ffprobe, ['-i', f], [f], signal)) ?? []);
  return each;
}

/** The video packets of one file (the written clip), in decode order. */
export async function readClipPackets(ffprobe: string, file: string, signal?: AbortSignal): Promise<VideoPacket[]> {
  const packets = await probePackets(ffprobe, ['-i', file], [file], signal);
  if (!packets) throw new HindsightError(`ffprobe cannot read the written clip ${file}`, { code: 'extract_failed' });
  return packets;
}

async function probePackets(ffprobe: string, input: string[], read: string[], signal?: AbortSignal): Promise<VideoPacket[] | undefined> {
  const r = await runCommand(...media(ffprobe, ['-v', 'error', ...input, '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,dts_time,duration_time,pos,flags', '-of', 'json'], { read }), {
    timeoutMs: 120_000,
    signal,
  });
  if (r.code !== 0) return undefined;
  let json: { packets?: { pts_time?: string; dts_time?: string; duration_time?: string; pos?: string; flags?: string }[] };
  try {
    json = JSON.parse(r.stdout.toString('utf8')) as typeof json;
  } catch {
    // seen once while a camera was down: exit 0 with a packet list that is not JSON. It counts as unreadable,
    // like a failed run: a concat list is then read file by file, and a clip is reported, not parsed wrong.
    return undefined;
  }
  const out: VideoPacket[] = [];
  for (const p of json.packets ?? []) {
    const ptsS = Number(p.pts_time ?? p.dts_time);
    const pos = Number(p.pos);
    if (!Number.isFinite(ptsS) || !Number.isFinite(pos)) continue; // a packet without time or place cannot be cut at
    out.push({ ptsS, durationS: Number(p.duration_time) || 0, pos, key: (p.flags ?? '').includes('K') });
  }
  return out;
}

function splitByFile(packets: readonly VideoPacket[]): VideoPacket[][] {
  const files: VideoPacket[][] = [];
  for (const p of packets) {
    const current = files[files.length - 1];
    const prev = current?.[current.length - 1];
    if (!current || (prev && p.pos <= prev.pos)) files.push([p]);
    else current.push(p);
  }
  return files;
}

/** Typical frame duration of a packet list, s: the packets' own durations, else the spacing of their times. */
export function frameDurationS(packets: readonly VideoPacket[]): number {
  const stated = packets.map((p) => p.durationS).filter((d) => d > 0);
  if (stated.length) return median(stated);
  const times = packets.map((p) => p.ptsS).sort((a, b) => a - b);
  const steps = times.slice(1).map((t, i) => t - times[i]!).filter((d) => d > 0);
  return steps.length ? median(steps) : 0;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
