import { spawnChild } from '../util/child.js';
import { HindsightError } from '../util/errors.js';
import { media } from '../util/sandbox.js';

const DECODE_TIMEOUT_MS = 10 * 60_000;

/**
 * The presentation times (s, the clip's own) of the keyframes that decode cleanly; a keyframe not among
 * them marks its keyframe interval as damaged. Only keyframes are decoded (`-skip_frame nokey`: at 2 s
 * keyframes about a twentieth of a full decode); a keyframe the decoder drops, or reports errors for, is
 * not clean. Garbage inside valid MPEG-TS framing passes every packet-level check; only a decode shows it.
 * Frames between keyframes are not decoded here: the analysis decodes them and reports what it finds.
 * Needs nothing from the clip's packet read, so a cut runs the two side by side.
 *
 * The decoder does not flag concealed frames (decode_error_flags stays 0 for H.264 in ffmpeg 5), so its
 * error lines are tied to frames by order: one decoder thread and `low_delay` (no output delay; only
 * intra frames are decoded, so there is nothing to reorder) make each frame's errors come just before
 * showinfo's line for that frame. Errors logged while the input is probed come before "Stream mapping".
 */
export async function cleanKeyframes(ffmpeg: string, file: string, signal?: AbortSignal): Promise<number[]> {
  const clean: number[] = [];
  let decoding = false;
  let errors = 0;
  const onLine = (line: string): void => {
    if (line.includes('Stream mapping')) decoding = true;
    if (!decoding) return;
    if (line.includes('[error]') || line.includes('[fatal]')) errors++;
    const shown = /\[Parsed_showinfo[^\]]*\] \[info\] n:\s*\d+ .*pts_time:(-?[\d.]+)/.exec(line);
    if (shown) {
      if (errors === 0) clean.push(Number(shown[1]));
      errors = 0;
    }
  };
  // the log is read as it comes (one line per frame and more: too long to collect whole for a long clip)
  const child = spawnChild(...media(ffmpeg, ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'level+info', '-threads', '1', '-flags', 'low_delay', '-skip_frame', 'nokey', '-i', file, '-copyts', '-map', '0:v:0', '-vf', 'showinfo', '-f', 'null', '-'], { read: [file] }));
  let rest = '';
  child.proc.stderr?.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString('utf8')).split(/\r?\n|\r/);
    rest = lines.pop() ?? '';
    lines.forEach(onLine);
  });
  const stop = (): void => void child.stop({ graceMs: 500 });
  const timer = setTimeout(stop, DECODE_TIMEOUT_MS);
  signal?.addEventListener('abort', stop, { once: true });
  const exit = await child.exited;
  clearTimeout(timer);
  signal?.removeEventListener('abort', stop);
  signal?.throwIfAborted();
  onLine(rest);
  if (exit.code === null && exit.signal !== null && clean.length === 0) {
    throw new HindsightError(`the decode check of ${file} was stopped (${exit.signal})`, { code: 'extract_failed' });
  }
  return clean;
}
