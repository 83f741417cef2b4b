import { statfsSync } from 'node:fs';

const MB = 1024 * 1024;

/** The alarm raised while recording is paused for lack of space (subject: 'buffer'). */
export const DISK_FULL = 'recorder.disk_full';

/**
 * Why recording must pause for lack of space on the buffer's disk, or undefined when there is room. Below the
 * reserve ffmpeg would soon fail to write and the database (often on the same disk) could not even record why,
 * so recording pauses while a little space is left. A disk that cannot be read is not a reason to stop.
 */
export function diskFullReason(bufferDir: string, reserveBytes: number): string | undefined {
  if (reserveBytes <= 0) return undefined;
  let free: number;
  try {
    const s = statfsSync(bufferDir);
    free = s.bavail * s.bsize;
  } catch {
    return undefined;
  }
  if (free >= reserveBytes) return undefined;
  return `disk full: ${(free / MB).toFixed(1)} MB free on the buffer disk, under the ${(reserveBytes / MB).toFixed(0)} MB recording reserve (buffer.recording_reserve_mb); recording resumes by itself when space returns`;
}
