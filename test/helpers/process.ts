import { readFileSync } from 'node:fs';
import { descendants as allDescendants } from '../../daemon/src/devkit/process.js';

export { ManagedProcess as TestProcess, stopAllManaged as stopAllTestProcesses, descendants, isAlive } from '../../daemon/src/devkit/process.js';

/**
 * The daemon's recording ffmpeg processes (one per camera): ffmpeg children that write a segment list. A
 * decode check or a probe is an ffmpeg child too, briefly, and is not one of them.
 */
export function recordingFfmpegs(pid: number): number[] {
  return allDescendants(pid).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'ffmpeg' && readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes('-segment_list');
    } catch {
      return false; // it ended meanwhile
    }
  });
}
