import { runCommand } from './child.js';
import { media } from './sandbox.js';

/**
 * The time (s from the stream's start, as ffmpeg's -ss counts) of the last keyframe of a file's first
 * video stream at or before `atS`, from packet headers only (nothing is decoded); undefined when there
 * is none or ffprobe cannot read the file. Packet times are the stream's own (an MPEG-TS file starts at
 * some offset): give `startTimeS` when it is known, else the first packet is read for it. `lookBackS`
 * reads only that stretch before `atS` instead of the whole file.
 */
export async function lastKeyframeAtOrBefore(ffprobe: string, file: string, atS: number, o: { startTimeS?: number; lookBackS?: number } = {}): Promise<number | undefined> {
  const probe = async (intervals: string | undefined): Promise<string[][] | undefined> => {
    const window = intervals === undefined ? [] : ['-read_intervals', intervals];
    const r = await runCommand(...media(ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', ...window, '-of', 'csv=p=0', file], { read: [file] }), { timeoutMs: 60_000 });
    return r.code === 0 ? r.stdout.toString('utf8').trim().split('\n').map((l) => l.split(',')) : undefined;
  };
  const base = o.startTimeS ?? Number((await probe('%+#1'))?.[0]?.[0]);
  if (!Number.isFinite(base)) return undefined;
  // the interval's end is not inclusive: read a little past `atS`, keep keyframes up to it
  const packets = await probe(o.lookBackS === undefined ? undefined : `${(base + Math.max(0, atS - o.lookBackS)).toFixed(3)}%${(base + atS + 0.5).toFixed(3)}`);
  const keyframes = (packets ?? [])
    .filter(([t, flags]) => flags?.includes('K') && Number.isFinite(Number(t)))
    .map(([t]) => Number(t) - base)
    .filter((t) => t <= atS + 1e-3);
  return keyframes.length ? Math.max(0, Math.max(...keyframes)) : undefined;
}
