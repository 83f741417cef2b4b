import { closeSync, constants, fstatSync, fsyncSync, lstatSync, openSync, readdirSync, rmdirSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import path from 'node:path';
import type { AuditLog } from '../audit/log.js';
import type { Db } from '../db/db.js';
import { DeviceWipeRepo, type ErasedRows } from '../db/repos/device-wipe.js';
import { MetaRepo } from '../db/repos/meta.js';
import { isSafeId } from '../util/ids.js';

/**
 * The force's `wipe` command, for a stolen box. What goes is what would let anyone read the box's data or
 * speak for it: the device signing key and enrollment (with the broker password), other private keys
 * of the box, the outbox, the buffer's footage and its index, every incident's master clips and working
 * files, and the web sessions. The audit log stays: it is append-only, the force holds its signed head,
 * and it is what shows the wipe happened.
 *
 * Two steps, so that the force gets its answer and a crash cannot half-undo the order:
 * 1. inside the command's transaction: `device.wiped` is audited and the wipe is recorded as pending;
 * 2. once the reply is sent and the daemon has stopped (nothing writes any more), or at the next start if
 *    the daemon died before: `completeWipe` destroys, audits `device.wipe_completed` and clears the mark.
 */

const PENDING_KEY = 'device.wipe_pending';

export interface WipeRequest {
  cmdId: string;
  issuerKid: string;
  role: string;
  reason: string;
}

/** What `completeWipe` deletes; the composition root fills it in from the configuration. */
export interface WipeTargets {
  /** Private files of the box (device key, enrollment, other keys); overwritten, then unlinked. */
  secretFiles: string[];
  bufferDir: string;
  evidenceDir: string;
}

export interface WipeSummary {
  secret_files: number;
  footage_files: number;
  evidence_files: number;
  rows: ErasedRows;
  /** Paths that could not be deleted, with why (a wipe goes on past one failure). */
  failures: string[];
}

const DESTROYS = ['device signing key', 'enrollment', 'private keys', 'outbox', 'buffer footage and index', 'incident master clips and working files', 'web sessions'];

/** Step 1, in the wipe command's transaction. */
export function markWipe(db: Db, audit: AuditLog, w: WipeRequest): { destroys: string[] } {
  new MetaRepo(db).set(PENDING_KEY, JSON.stringify({ cmd_id: w.cmdId }));
  audit.append({ actor: { type: 'force', id: w.issuerKid, role: w.role }, action: 'device.wiped', objectIds: [w.cmdId], justification: w.reason, detail: { destroys: DESTROYS } });
  return { destroys: DESTROYS };
}

/** The wipe command's id when a wipe was ordered and has not finished. */
export function pendingWipe(db: Db): string | undefined {
  const raw = new MetaRepo(db).get(PENDING_KEY);
  if (raw === undefined) return undefined;
  try {
    return String((JSON.parse(raw) as { cmd_id?: unknown }).cmd_id ?? 'unknown');
  } catch {
    return 'unknown';
  }
}

/**
 * Step 2: destroy, with no service running. Idempotent (a wipe interrupted by a crash is finished at the
 * next start). Secrets go first: once the device key and enrollment are gone the box cannot speak for
 * itself, whatever happens to the rest.
 */
export function completeWipe(db: Db, audit: AuditLog, targets: WipeTargets): WipeSummary {
  const cmdId = pendingWipe(db) ?? 'unknown';
  const failures: string[] = [];
  let secretFiles = 0;
  for (const f of targets.secretFiles) if (shred(f, failures)) secretFiles += 1;
  const repo = new DeviceWipeRepo(db);
  // only folders the database names as the box's own: a mistyped buffer_dir never costs anyone else's files
  const cameras = repo.cameraIds();
  const incidents = repo.incidentIds();
  const rows = db.transaction(() => repo.eraseRows())();
  let footage = 0;
  for (const id of cameras) footage += removeOwnFolder(targets.bufferDir, id, failures);
  let evidence = 0;
  for (const id of incidents) evidence += removeOwnFolder(targets.evidenceDir, id, failures);
  const summary: WipeSummary = { secret_files: secretFiles, footage_files: footage, evidence_files: evidence, rows, failures: failures.slice(0, 20) };
  db.transaction(() => {
    audit.append({ actor: { type: 'system', id: 'wipe' }, action: 'device.wipe_completed', objectIds: [cmdId], result: failures.length ? 'error' : 'ok', detail: { ...summary, failures: failures.length } });
    new MetaRepo(db).delete(PENDING_KEY);
  })();
  repo.checkpoint();
  return summary;
}

function errText(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
}

/**
 * Overwrite a secret file with zeros and unlink it. A symbolic link is unlinked, never followed (and never
 * written through). Returns whether something was removed. Overwriting is best effort: on flash storage
 * the old blocks may survive, which is why the keys are also useless once the force revokes the box.
 */
function shred(file: string, failures: string[]): boolean {
  let st: Stats;
  try {
    st = lstatSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') failures.push(`${file}: ${errText(err)}`);
    return false;
  }
  try {
    if (st.isFile()) {
      const fd = openSync(file, constants.O_WRONLY | constants.O_NOFOLLOW);
      try {
        const size = fstatSync(fd).size;
        const zeros = Buffer.alloc(Math.min(size, 1 << 20));
        for (let at = 0; at < size; ) at += writeSync(fd, zeros, 0, Math.min(zeros.length, size - at), at);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    else if (st.isDirectory()) throw new Error('a folder where a key file should be');
    unlinkSync(file);
    return true;
  } catch (err) {
    failures.push(`${file}: ${errText(err)}`);
    return false;
  }
}

/** Remove `root/name` (a camera's or an incident's folder); `name` must be an id, so it cannot leave `root`. */
function removeOwnFolder(root: string, name: string, failures: string[]): number {
  if (!isSafeId(name)) return 0;
  return removeTree(path.join(root, name), failures);
}

/**
 * `rm -r` that never follows a symbolic link: a link is unlinked itself, so nothing outside the tree is
 * touched. Returns the number of files (and links) removed; a missing path is nothing to do.
 */
function removeTree(p: string, failures: string[]): number {
  let st: Stats;
  try {
    st = lstatSync(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') failures.push(`${p}: ${errText(err)}`);
    return 0;
  }
  try {
    if (!st.isDirectory()) {
      unlinkSync(p);
      return 1;
    }
    let n = 0;
    for (const entry of readdirSync(p)) n += removeTree(path.join(p, entry), failures);
    rmdirSync(p);
    return n;
  } catch (err) {
    failures.push(`${p}: ${errText(err)}`);
    return 0;
  }
}
