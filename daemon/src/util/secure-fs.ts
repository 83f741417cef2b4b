import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, constants, fchmodSync, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import path from 'node:path';
import { HindsightError } from './errors.js';

/**
 * Files that hold secrets or evidence: created with their mode set explicitly (never left to the umask),
 * never through a symbolic link, and read from the same descriptor whose type and mode were checked.
 */

export const PRIVATE_FILE = 0o600;
export const PRIVATE_DIR = 0o700;

/** At program start: nothing the program (or a child it starts) creates is for other users, whatever umask it got. */
export function narrowUmask(): void {
  process.umask(process.umask() | 0o027);
}

const { O_WRONLY, O_RDONLY, O_CREAT, O_EXCL, O_TRUNC, O_NOFOLLOW } = constants;

function symlinkError(file: string, err: unknown): HindsightError {
  return new HindsightError(`${file} is a symbolic link; it is not followed`, { code: 'symlink_refused', hint: 'replace the link with the real file (or folder)', cause: err });
}

function isErrno(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === code;
}

/**
 * `mkdir -p` where every folder it creates gets exactly `mode`, whatever the umask. With `refuseLink`, a
 * symbolic link in the folder's place is refused (an evidence folder must be the folder itself).
 */
export function ensurePrivateDir(dir: string, mode = PRIVATE_DIR, refuseLink = false): string {
  const abs = path.resolve(dir);
  const missing: string[] = [];
  for (let d = abs; ; d = path.dirname(d)) {
    try {
      lstatSync(d);
      break;
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      missing.push(d);
      if (path.dirname(d) === d) break;
    }
  }
  mkdirSync(abs, { recursive: true, mode });
  for (const d of missing) chmodSync(d, mode);
  const st = refuseLink ? lstatSync(abs) : statSync(abs);
  if (st.isSymbolicLink()) throw symlinkError(abs, undefined);
  if (!st.isDirectory()) throw new HindsightError(`${abs} is not a folder`, { code: 'not_a_folder', hint: 'move the file out of the way' });
  return abs;
}

function writeAll(fd: number, data: string | Uint8Array): void {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  for (let at = 0; at < buf.length; ) at += writeSync(fd, buf, at, buf.length - at);
}

/** Open for writing without following a symbolic link; the mode is set on the descriptor (umask-proof). */
function openForWrite(file: string, flags: number, mode: number): number {
  let fd: number;
  try {
    fd = openSync(file, O_WRONLY | O_CREAT | O_NOFOLLOW | flags, mode);
  } catch (err) {
    if (isErrno(err, 'ELOOP')) throw symlinkError(file, err);
    throw err;
  }
  try {
    fchmodSync(fd, mode);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}

/** Create a new file (refused if anything, a link included, already has the name) with exactly `mode`. */
export function createExclusiveFile(file: string, data: string | Uint8Array, options: { mode?: number; sync?: boolean } = {}): void {
  const fd = openForWrite(file, O_EXCL, options.mode ?? PRIVATE_FILE);
  try {
    writeAll(fd, data);
    if (options.sync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Write (create or truncate) a file with exactly `mode`, never through a symbolic link. */
export function writePrivateFile(file: string, data: string | Uint8Array, mode = PRIVATE_FILE): void {
  const fd = openForWrite(file, O_TRUNC, mode);
  try {
    writeAll(fd, data);
  } finally {
    closeSync(fd);
  }
}

/**
 * Replace a file atomically: the content goes to a fresh temporary name in the same folder (created
 * exclusively, `mode`, synced), then is renamed over the file. Never readable by others, even briefly.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, mode = PRIVATE_FILE): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(8).toString('hex')}.tmp`);
  try {
    createExclusiveFile(tmp, data, { mode, sync: true });
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

export interface CheckedFile {
  data: Buffer;
  stat: Stats;
}

/**
 * Read a regular file without following a symbolic link: open, `fstat` the descriptor, let `check` refuse
 * it (e.g. for its mode), then read from that same descriptor, so the file checked is the file read.
 */
export function readNoFollow(file: string, check?: (stat: Stats) => void): CheckedFile {
  let fd: number;
  try {
    fd = openSync(file, O_RDONLY | O_NOFOLLOW);
  } catch (err) {
    if (isErrno(err, 'ELOOP')) throw symlinkError(file, err);
    throw err;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new HindsightError(`${file} is not a regular file`, { code: 'not_a_file', hint: 'give the path of a file' });
    check?.(stat);
    const data = Buffer.allocUnsafe(stat.size);
    let at = 0;
    while (at < data.length) {
      const n = readSync(fd, data, at, data.length - at, null);
      if (n === 0) break;
      at += n;
    }
    return { data: at === data.length ? data : data.subarray(0, at), stat };
  } finally {
    closeSync(fd);
  }
}

/** Refuse a file that the group or other users can read or write. */
export function ownerOnly(file: string, hint?: string): (stat: Stats) => void {
  return (stat) => {
    if (stat.mode & 0o077) {
      throw new HindsightError(`${file} can be read by other users (mode ${(stat.mode & 0o777).toString(8)})`, { code: 'key_permissions', hint: hint ?? `run: chmod 600 ${file}` });
    }
  };
}

/**
 * `base` joined with `parts`, resolved, and checked to stay inside `base` (no `..`, no absolute part).
 */
export function resolveInside(base: string, ...parts: string[]): string {
  const root = path.resolve(base);
  const full = path.resolve(root, ...parts);
  const rel = path.relative(root, full);
  if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
    throw new HindsightError(`the path ${JSON.stringify(parts.join('/')).slice(0, 200)} leaves its folder ${root}`, { code: 'path_escape', hint: 'evidence paths stay inside their folder; the record was altered' });
  }
  return full;
}
