import { accessSync, constants, existsSync, statfsSync } from 'node:fs';
import path from 'node:path';
import type { CheckResult } from '../doctor/check.js';
import type { DaemonPaths } from './paths.js';

const GiB = 1024 ** 3;

/** `hindsight doctor`: the configured state folder is writable (or can be created) by this user. */
export function stateDirCheck({ paths }: { paths: Pick<DaemonPaths, 'stateDir'> }): CheckResult {
  const dir = paths.stateDir;
  const base = { check: 'state dir', required: true };
  try {
    if (!existsSync(dir)) {
      let parent = path.dirname(dir);
      while (!existsSync(parent)) parent = path.dirname(parent);
      accessSync(parent, constants.W_OK);
      return { ...base, state: 'ok', detail: `${dir} (will be created at first start)` };
    }
    accessSync(dir, constants.W_OK | constants.R_OK);
    return { ...base, state: 'ok', detail: `${dir} writable` };
  } catch {
    return { ...base, state: 'missing', detail: `${dir} is not writable by this user`, fix: `create it and give it to the daemon's user: install -d -o hindsight -m 0750 ${dir}` };
  }
}

/** `hindsight doctor`: free space where the state folder is (the buffer is the box's largest user of disk). */
export function diskCheck({ paths }: { paths: Pick<DaemonPaths, 'stateDir'> }): CheckResult {
  let probe = paths.stateDir;
  while (!existsSync(probe)) probe = path.dirname(probe);
  const fs = statfsSync(probe);
  const free = fs.bavail * fs.bsize;
  const detail = `${(free / GiB).toFixed(1)} GiB free at ${probe}`;
  if (free < 1 * GiB) return { check: 'disk', state: 'missing', required: true, detail, fix: 'free space or point paths.state_dir at a larger disk' };
  return { check: 'disk', state: free < 20 * GiB ? 'warn' : 'ok', required: true, detail: free < 20 * GiB ? `${detail} (a day of buffer needs ~40 GiB per 4 Mbit/s camera)` : detail };
}
