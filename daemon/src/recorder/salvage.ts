import { runCommand } from '../util/child.js';
import { media } from '../util/sandbox.js';

/**
 * Duration of a segment ffmpeg did not finish (it was killed mid-segment), from its video packets:
 * first timestamp to last timestamp plus the last packet's duration. Undefined when nothing in it is readable.
 */
export async function readableDurationS(file: string, ffprobe: string): Promise<number | undefined> {
  const r = await runCommand(...media(ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,dts_time,duration_time', '-of', 'csv=p=0', file], { read: [file] }), {
    timeoutMs: 30_000,
    maxStdoutBytes: 4 * 1024 * 1024,
  });
  if (r.code !== 0 && r.stdout.length === 0) return undefined;
  let first: number | undefined;
  let last: number | undefined;
  let lastDuration = 0;
  for (const line of r.stdout.toString('utf8').split('\n')) {
    const [pts, dts, duration] = line.split(',').map((f) => (f === '' || f === 'N/A' ? NaN : Number(f)));
    const t = Number.isFinite(pts) ? pts! : dts!;
    if (!Number.isFinite(t)) continue;
    first = first === undefined ? t : Math.min(first, t);
    if (last === undefined || t >= last) {
      last = t;
      lastDuration = Number.isFinite(duration) ? duration! : 0;
    }
  }
  if (first === undefined || last === undefined) return undefined;
  return last + lastDuration - first;
}
