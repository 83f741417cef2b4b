import { randomBytes } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { HindsightError } from '../util/errors.js';
import { createExclusiveFile, ensurePrivateDir } from '../util/secure-fs.js';

/**
 * Who is on the other end of the control socket, proved by the kernel rather than claimed.
 *
 * Node cannot read a unix socket's peer credentials (SO_PEERCRED). So the CLI proves its user the way a
 * file system can: before a request it creates a new file with a random name in a folder of the daemon's
 * runtime folder (only root and the daemon's own user can write there) and names that file in a header; the
 * daemon looks at the file's owner, which the kernel set to the creator's user id and which no caller
 * other than root can choose, then deletes it (one use). The audit row then names that user, never a
 * name the request asserted.
 */

/** The header a request names its proof file in. */
export const PEER_HEADER = 'x-hindsight-peer';
/** A proof older than this is refused (a request is sent right after its file is made). */
const MAX_AGE_MS = 60_000;
const NAME = /^[0-9a-f]{32}$/;

export function peerDir(runtimeDir: string): string {
  return path.join(runtimeDir, 'control.peers');
}

/** The daemon, at start: the proof folder, owner-only and empty (files of a crashed client are dropped). */
export function preparePeerDir(runtimeDir: string): void {
  const dir = ensurePrivateDir(peerDir(runtimeDir), 0o700, true);
  for (const f of readdirSync(dir)) rmSync(path.join(dir, f), { force: true, recursive: true });
}

/** The CLI, before a request: make a proof file; returns its name (for the header) and how to remove it. */
export function makePeerProof(runtimeDir: string): { name: string; remove: () => void } {
  const name = randomBytes(16).toString('hex');
  const file = path.join(peerDir(runtimeDir), name);
  try {
    createExclusiveFile(file, '');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES') throw new HindsightError(`permission denied in ${peerDir(runtimeDir)}`, { code: 'forbidden', hint: 'run the command as root or as the hindsight user' });
    throw err;
  }
  return { name, remove: () => rmSync(file, { force: true }) };
}

/**
 * The daemon, on a request: the caller's user from its proof file, which is removed. Throws a plain-words
 * error for a missing, malformed, stale, linked or shared proof.
 */
export function provenPeer(runtimeDir: string, name: string | undefined, nowMs: number): { uid: number; user: string } {
  const refuse = (why: string): never => {
    throw new HindsightError(`the caller did not prove which user it runs as: ${why}`, { code: 'unauthorized', hint: 'use the hindsight command of the same version as the daemon' });
  };
  if (!name) return refuse('no proof named');
  if (!NAME.test(name)) return refuse('the proof name is malformed');
  const file = path.join(peerDir(runtimeDir), name);
  let st;
  try {
    st = lstatSync(file);
  } catch {
    return refuse('no such proof (already used, or never made)');
  }
  try {
    // a link, a folder or a second name of someone else's file proves nothing about the caller
    if (!st.isFile() || st.nlink !== 1) return refuse('the proof is not a plain file of its own');
    if (Math.abs(nowMs - st.mtimeMs) > MAX_AGE_MS) return refuse('the proof is stale');
    return { uid: st.uid, user: userName(st.uid) };
  } finally {
    rmSync(file, { force: true });
  }
}

/** Who a control-socket caller is in audit rows and incidents: a `cli` actor named by its proven user. */
export interface CliActor {
  type: 'cli';
  id: string;
}

/** The actor of a proven control-socket caller: its login name (or `uid-N` without one), as an id. */
export function peerActor(peer: { uid: number; user: string }): CliActor {
  return { type: 'cli', id: peer.user.replace(/[^A-Za-z0-9_-]/g, '_') };
}

/** A user id's login name from /etc/passwd, `uid-N` when it has none. */
export function userName(uid: number): string {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (name && id !== undefined && Number(id) === uid && /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/.test(name)) return name;
    }
  } catch {
    // no passwd file (a minimal container): the number is still true
  }
  return `uid-${uid}`;
}

/** The proven caller of each request being served (set by the control server's request hook). */
const callers = new WeakMap<object, CliActor>();

export function setCaller(raw: object, actor: CliActor): void {
  callers.set(raw, actor);
}

/** The proven caller of a request (its raw message); a request without one never reaches a handler. */
export function callerOf(raw: object): CliActor {
  const actor = callers.get(raw);
  if (!actor) throw new Error('control request without a proven caller');
  return actor;
}
