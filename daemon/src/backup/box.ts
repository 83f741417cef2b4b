import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AuditLog } from '../audit/log.js';
import { credentialsKeyPath } from '../cameras/credentials.js';
import { loadConfigFile } from '../config/load.js';
import { daemonPaths } from '../config/paths.js';
import type { Config } from '../config/schema.js';
import { openDatabase, snapshotDatabase } from '../db/db.js';
import { uplinkFiles } from '../uplink/enrollment.js';
import { newId } from '../util/ids.js';
import { fileStamp } from '../util/when.js';
import { writeFileAtomic } from '../util/secure-fs.js';
import { BackupError, readBackup, writeBackup, type BackupManifest, type BackupSecret, type MemberSource } from '../crypto/backup-file.js';
import { readEpoch, RESTORE_MARKER, type RestoreMarker } from '../audit/epoch.js';

/**
 * `hindsight backup` and `hindsight restore`: the box's database (incidents, cameras, staff, settings,
 * undelivered sealed evidence, the audit chain), its config file, the camera-credentials key, the
 * enrollment (force key set, broker login, CA) and the web app's certificate, in one encrypted file. The
 * device key only when asked: a copy of it is a copy of the box's identity. Footage and master clips are
 * not in it (they stay on their disk; a backup must not become a second copy of personal data).
 */

export interface BoxBackupInfo {
  device_id: string;
  version: string;
  schema_version: number;
  audit: { count: number; head_hash: string };
  epoch: number;
  config_file: string;
  device_key: boolean;
}

/** Files of the state folder that belong in a backup (relative to it), when they exist. */
const STATE_FILES = [
  ['uplink', 'enrollment.json'],
  ['uplink', 'ca.pem'],
  ['web', 'cert.pem'],
  ['web', 'key.pem'],
].map((p) => p.join('/'));

const DEVICE_KEY = 'keys/device.key';

export interface BackupRequest {
  config: Config;
  configFile: string;
  out: string;
  secret: BackupSecret;
  withDeviceKey: boolean;
  version: string;
  now: number;
}

export async function backupBox(r: BackupRequest): Promise<BackupManifest<BoxBackupInfo>> {
  const paths = daemonPaths(r.config);
  if (!existsSync(paths.database)) throw new BackupError(`there is no database at ${paths.database} to back up`, { code: 'no_database', hint: 'check --config: it names the state folder of the box' });
  const work = mkdtempSync(path.join(os.tmpdir(), 'hindsight-backup-'));
  try {
    const snapshot = path.join(work, 'hindsight.db');
    const schema = await snapshotDatabase(paths.database, snapshot);
    // what the copy holds, read from the copy itself (not the live file, which moves on)
    const db = openDatabase(snapshot, { readonly: true, quickCheck: true, upgrade: 'refuse' });
    let audit: { count: number; head_hash: string };
    let epoch: number;
    try {
      const head = new AuditLog(db, { now: () => r.now }, () => ({ synced: false, offset_ms: null, source: 'unknown' })).head();
      audit = { count: head.count, head_hash: head.head_hash };
      epoch = readEpoch(db)?.n ?? 0;
    } finally {
      db.close();
    }
    const members: MemberSource[] = [
      { name: 'db/hindsight.db', file: snapshot, mode: 0o600 },
      { name: 'config/config.yaml', file: r.configFile, mode: 0o640 },
    ];
    const credKey = credentialsKeyPath(r.config.cameras.credentials_key_file, paths.stateDir);
    if (existsSync(credKey.file)) members.push({ name: 'keys/camera-credentials.key', file: credKey.file, mode: 0o600 });
    for (const rel of STATE_FILES) {
      const file = path.join(paths.stateDir, ...rel.split('/'));
      if (existsSync(file)) members.push({ name: `state/${rel}`, file, mode: statSync(file).mode });
    }
    const deviceKey = uplinkFiles(paths.stateDir).deviceKey;
    if (r.withDeviceKey) {
      if (!existsSync(deviceKey)) throw new BackupError(`--with-device-key: this box has no device key (${deviceKey})`, { code: 'no_device_key', hint: 'leave out --with-device-key: a box that was never enrolled has no identity to keep' });
      members.push({ name: `state/${DEVICE_KEY}`, file: deviceKey, mode: 0o600 });
    }
    const info: BoxBackupInfo = { device_id: r.config.device.id, version: r.version, schema_version: schema, audit, epoch, config_file: r.configFile, device_key: r.withDeviceKey };
    return writeBackup(r.out, 'box', info, members, r.secret, r.now);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export interface RestoreRequest {
  in: string;
  secret: BackupSecret;
  /** Where the config file goes (the one the daemon reads). */
  configFile: string;
  env: NodeJS.ProcessEnv;
  restoredBy: string;
  now: number;
}

export interface RestoreResult {
  manifest: BackupManifest<BoxBackupInfo>;
  stateDir: string;
  /** Files that were in the way, with where they were moved. */
  movedAside: { from: string; to: string }[];
  deviceKey: 'restored' | 'kept' | 'missing';
  /** A credentials key that could not be written where the config reads it (a systemd credential). */
  credentialsKeyAt?: string;
  epoch: number;
}

/**
 * Put a backup back: checked completely first (every hash), then the config, the database and the key
 * files go into place; whatever was there is moved into `<state_dir>/backups/before-restore-<time>/`,
 * never deleted. The daemon must be stopped. The next daemon start finishes the restore (a new epoch:
 * see epoch.ts), so that only the daemon writes the database.
 */
export function restoreBox(r: RestoreRequest): RestoreResult {
  const staging = mkdtempSync(path.join(os.tmpdir(), 'hindsight-restore-'));
  try {
    const manifest = readBackup<BoxBackupInfo>(r.in, r.secret, staging, 'box');
    const staged = (name: string): string | undefined => (manifest.members.some((m) => m.name === name) ? path.join(staging, ...name.split('/')) : undefined);
    const stagedConfig = staged('config/config.yaml');
    const stagedDb = staged('db/hindsight.db');
    if (!stagedConfig || !stagedDb) throw new BackupError(`${r.in} lacks its config or database`, { code: 'backup_damaged', hint: 'use another backup' });
    // the backup's config must load here (same device, paths this version understands) before anything moves
    const config = loadConfigFile(stagedConfig, r.env);
    if (config.device.id !== manifest.info.device_id) throw new BackupError(`the backup's config names device ${config.device.id}, its manifest ${manifest.info.device_id}`, { code: 'backup_damaged', hint: 'use another backup' });
    const paths = daemonPaths(config);
    const aside = path.join(paths.stateDir, 'backups', `before-restore-${fileStamp(r.now)}`);
    const owner = ownerOf(paths.stateDir) ?? ownerOf(path.dirname(r.configFile));
    const moved: RestoreResult['movedAside'] = [];
    const moveAside = (file: string): void => {
      if (!existsSync(file)) return;
      mkdirSync(aside, { recursive: true, mode: 0o700 });
      const to = path.join(aside, path.basename(file));
      renameSync(file, to);
      moved.push({ from: file, to });
    };
    // the epoch continues from the highest one either copy knows (restoring twice from one backup)
    const previousEpoch = Math.max(manifest.info.epoch, epochOfExisting(paths.database));
    mkdirSync(paths.stateDir, { recursive: true, mode: 0o750 });
    for (const suffix of ['', '-wal', '-shm']) moveAside(paths.database + suffix);
    place(stagedDb, paths.database, 0o600, owner);
    if (existsSync(r.configFile) && readFileSync(r.configFile, 'utf8') !== readFileSync(stagedConfig, 'utf8')) moveAside(r.configFile);
    place(stagedConfig, r.configFile, 0o640, owner);
    for (const m of manifest.members.filter((x) => x.name.startsWith('state/'))) {
      const target = path.join(paths.stateDir, ...m.name.slice('state/'.length).split('/'));
      moveAside(target);
      place(path.join(staging, ...m.name.split('/')), target, m.mode & 0o700, owner);
    }
    let credentialsKeyAt: string | undefined;
    const credStaged = staged('keys/camera-credentials.key');
    if (credStaged) {
      const target = credentialsKeyPath(config.cameras.credentials_key_file, paths.stateDir, r.env).file;
      if (r.env.CREDENTIALS_DIRECTORY && target.startsWith(r.env.CREDENTIALS_DIRECTORY)) credentialsKeyAt = target;
      else if (!existsSync(target) || !readFileSync(target).equals(readFileSync(credStaged))) {
        moveAside(target);
        place(credStaged, target, 0o600, owner);
      }
    }
    const deviceKeyFile = uplinkFiles(paths.stateDir).deviceKey;
    const deviceKey = manifest.info.device_key ? 'restored' : existsSync(deviceKeyFile) ? 'kept' : 'missing';
    const marker: RestoreMarker = { backup_created_at: manifest.created_at, backup_audit: manifest.info.audit, previous_epoch: previousEpoch, restored_at: r.now, restored_by: r.restoredBy, from_file: path.basename(r.in) };
    writeFileAtomic(path.join(paths.stateDir, RESTORE_MARKER), JSON.stringify(marker) + '\n');
    if (owner) chownSync(path.join(paths.stateDir, RESTORE_MARKER), owner.uid, owner.gid);
    return { manifest, stateDir: paths.stateDir, movedAside: moved, deviceKey, credentialsKeyAt, epoch: previousEpoch + 1 };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

function ownerOf(dir: string): { uid: number; gid: number } | undefined {
  try {
    const st = statSync(dir);
    return { uid: st.uid, gid: st.gid };
  } catch {
    return undefined;
  }
}

/** Copy a staged file into place (beside it first, then renamed), with its mode and the state folder's owner. */
function place(from: string, to: string, mode: number, owner: { uid: number; gid: number } | undefined): void {
  mkdirSync(path.dirname(to), { recursive: true, mode: 0o750 });
  const tmp = `${to}.restoring-${newId()}`;
  copyFileSync(from, tmp);
  // owner-only for keys and the database whatever the umask; the daemon's user when run as root
  chmodSync(tmp, mode);
  if (owner && process.getuid?.() === 0) chownSync(tmp, owner.uid, owner.gid);
  renameSync(tmp, to);
}

/** The epoch of a database already at the restore's target (0 when there is none or it cannot be read). */
function epochOfExisting(file: string): number {
  if (!existsSync(file)) return 0;
  try {
    const db = openDatabase(file, { readonly: true, quickCheck: false, upgrade: 'refuse' });
    try {
      return readEpoch(db)?.n ?? 0;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}

