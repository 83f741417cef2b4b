import { chmodSync, chownSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, renameSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { snapshotDatabase } from '../db/db.js';
import { fileStamp } from '../util/when.js';
import { forcePaths } from './paths.js';
import { BackupError, readBackup, writeBackup, type BackupManifest, type BackupSecret, type MemberSource } from '../crypto/backup-file.js';

/**
 * `hindsight-force backup` and `restore`: the force folder as it is (config, keys, key set, broker kit,
 * enrollment bundles, the evidence store) with a consistent copy of the force database. The gallery's
 * search index is left out: it is rebuilt from the database when missing.
 */

export interface ForceBackupInfo {
  version: string;
  schema_version: number;
  files: number;
}

/** Paths under the force folder (relative, '/'-separated) that are never copied as files. */
function skipped(rel: string): boolean {
  return /^force\.db(-wal|-shm|-journal)?$/.test(rel) || rel.startsWith('backups/') || rel.startsWith('gallery/index/') || /\.partial-\d+$/.test(rel);
}

function walk(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (skipped(r)) continue;
    if (e.isDirectory()) out.push(...walk(dir, r));
    else if (e.isFile()) out.push(r);
  }
  return out;
}

export async function backupForce(r: { dir: string; out: string; secret: BackupSecret; version: string; now: number }): Promise<BackupManifest<ForceBackupInfo>> {
  const p = forcePaths(r.dir);
  if (!existsSync(p.db)) throw new BackupError(`there is no force database in ${p.dir}`, { code: 'no_database', hint: 'check --config: force.dir names the force installation' });
  const work = mkdtempSync(path.join(os.tmpdir(), 'hindsight-force-backup-'));
  try {
    const snapshot = path.join(work, 'force.db');
    const schema = await snapshotDatabase(p.db, snapshot);
    const files = walk(p.dir);
    const members: MemberSource[] = [{ name: 'db/force.db', file: snapshot, mode: 0o600 }, ...files.map((rel) => ({ name: `force/${rel}`, file: path.join(p.dir, ...rel.split('/')), mode: statSync(path.join(p.dir, ...rel.split('/'))).mode }))];
    return writeBackup(r.out, 'force', { version: r.version, schema_version: schema, files: files.length }, members, r.secret, r.now);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Processes that have `file` open (read from /proc: a receiver or console still running on the folder). */
export function processesHolding(file: string): number[] {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return pids;
  }
  for (const pid of entries) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === file) {
          pids.push(Number(pid));
          break;
        }
      } catch {
        /* gone */
      }
    }
  }
  return pids;
}

/**
 * Put a force backup into `dir`: checked completely first; an existing folder is moved aside whole to
 * `<dir>.before-restore-<time>` (never deleted). Refused while a process has the force database open.
 */
export function restoreForce(r: { in: string; dir: string; secret: BackupSecret; now: number }): { manifest: BackupManifest<ForceBackupInfo>; movedAside?: string } {
  const p = forcePaths(r.dir);
  const holders = existsSync(p.db) ? processesHolding(p.db) : [];
  if (holders.length) {
    throw new BackupError(`the force database is open in process ${holders.join(', ')}`, { code: 'force_running', hint: 'stop the receivers and the console (`systemctl stop hindsight-force hindsight-force-console`), then restore' });
  }
  const staging = mkdtempSync(path.join(os.tmpdir(), 'hindsight-force-restore-'));
  try {
    const manifest = readBackup<ForceBackupInfo>(r.in, r.secret, staging, 'force');
    if (!manifest.members.some((m) => m.name === 'db/force.db')) throw new BackupError(`${r.in} holds no force database`, { code: 'backup_damaged', hint: 'use another backup' });
    let movedAside: string | undefined;
    let owner: { uid: number; gid: number } | undefined;
    if (existsSync(p.dir)) {
      const st = lstatSync(p.dir);
      owner = { uid: st.uid, gid: st.gid };
      if (readdirSync(p.dir).length > 0) {
        movedAside = `${p.dir}.before-restore-${fileStamp(r.now)}`;
        renameSync(p.dir, movedAside);
      }
    }
    mkdirSync(p.dir, { recursive: true, mode: 0o700 });
    for (const m of manifest.members) {
      const target = m.name === 'db/force.db' ? p.db : path.join(p.dir, ...m.name.slice('force/'.length).split('/'));
      if (m.name !== 'db/force.db' && !m.name.startsWith('force/')) continue;
      mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
      copyFileSync(path.join(staging, ...m.name.split('/')), target);
      chmodSync(target, m.mode & 0o777);
      if (owner && process.getuid?.() === 0) chownSync(target, owner.uid, owner.gid);
    }
    if (owner && process.getuid?.() === 0) chownSync(p.dir, owner.uid, owner.gid);
    return { manifest, movedAside };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
