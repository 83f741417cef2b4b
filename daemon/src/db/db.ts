import Database from 'better-sqlite3';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { HindsightError } from '../util/errors.js';
import { createExclusiveFile } from '../util/secure-fs.js';
import { fileStamp } from '../util/when.js';
import { MIGRATIONS, type Migration } from './migrations/index.js';

export type Db = Database.Database;

export class DatabaseError extends HindsightError {}

export interface OpenOptions {
  readonly?: boolean;
  /** For tests: apply migrations only up to this version. */
  migrateTo?: number;
  migrations?: readonly Migration[];
  /**
   * Run SQLite's quick_check before anything else (default). A command that only reads a few tables
   * (`fleet list`) skips it: on a large file it is most of the command's time, and SQLite reports a
   * damaged page it reads anyway.
   */
  quickCheck?: boolean;
  /**
   * An existing database of an older schema: migrate it (default), or refuse with the remedy (`refuse`: a
   * CLI command; only the daemon upgrades, after a backup).
   */
  upgrade?: 'migrate' | 'refuse';
  /** Before migrating an existing database, copy it into this folder (SQLite's VACUUM INTO: consistent, 0600). */
  backupDir?: string;
  /** Hears each such copy: its file and the schema version it holds. */
  onBackup?: (file: string, version: number) => void;
}

/**
 * Open the daemon's SQLite database: WAL, busy timeout, foreign keys, integrity check, then the numbered
 * migrations. A file that is not a readable Hindsight database stops start-up with its name: it is
 * never silently re-created (it may hold the only record of evidence and the audit chain).
 */
export function openDatabase(file: string, options: OpenOptions = {}): Db {
  const fresh = !existsSync(file);
  if (fresh && !options.readonly) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o750 });
    // Created owner-only whatever the umask; SQLite gives its -wal and -shm files the same mode.
    try {
      createExclusiveFile(file, '');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw unreadable(file, err);
    }
  }
  let db: Db;
  try {
    db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
  } catch (err) {
    throw unreadable(file, err);
  }
  try {
    db.pragma('busy_timeout = 5000');
    if (!options.readonly) db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    if (!fresh && options.quickCheck !== false) {
      const check = db.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new Error(`integrity check failed: ${String(check)}`);
    }
    const migrations = options.migrations ?? MIGRATIONS;
    const current = schemaVersion(db);
    const known = migrations.length ? migrations[migrations.length - 1]!.version : 0;
    const upgrading = current > 0 && current < known && (options.migrateTo === undefined || current < options.migrateTo);
    if (upgrading && options.upgrade === 'refuse') {
      throw new DatabaseError(`database ${file} has schema version ${current}, older than this build's ${known}`, {
        code: 'database_too_old',
        hint: 'only the daemon upgrades a database, after taking a backup of it: start the daemon once (`systemctl start hindsight`, or `hindsight run --config FILE`), then run this command again',
      });
    }
    if (!options.readonly) {
      writeTransactionsByDefault(db);
      if (upgrading && options.backupDir) options.onBackup?.(backupBeforeUpgrade(db, file, options.backupDir, current), current);
      migrate(db, migrations, options.migrateTo);
    }
  } catch (err) {
    db.close();
    if (err instanceof HindsightError) throw err;
    throw unreadable(file, err);
  }
  return db;
}

/**
 * Make `db.transaction(fn)()` begin IMMEDIATE instead of DEFERRED. The daemon and CLI commands write the
 * same file: a deferred transaction that reads first and then writes cannot upgrade its WAL snapshot once
 * another process has committed, and SQLite answers SQLITE_BUSY at once, without waiting busy_timeout.
 * Taking the write lock at BEGIN makes every writer wait its turn instead. (`.deferred()` stays available.)
 */
function writeTransactionsByDefault(db: Db): void {
  const transaction = db.transaction.bind(db);
  db.transaction = ((fn: (...args: unknown[]) => unknown) => {
    const t = transaction(fn);
    const immediate = ((...args: unknown[]) => t.immediate(...args)) as unknown as typeof t;
    return Object.assign(immediate, { default: t.immediate, deferred: t.deferred, immediate: t.immediate, exclusive: t.exclusive });
  }) as Db['transaction'];
}

/** A consistent copy of the database as it is, before a migration changes it: `<dir>/<name>.schema-<v>.<time>.db`, 0600. */
function backupBeforeUpgrade(db: Db, file: string, dir: string, version: number): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stamp = fileStamp(Date.now());
  const out = path.join(dir, `${path.basename(file, '.db')}.schema-${version}.${stamp}.db`);
  // made owner-only and empty first (VACUUM INTO writes into an empty file), so no copy is ever readable by others
  createExclusiveFile(out, '');
  db.prepare('VACUUM INTO ?').run(out);
  chmodSync(out, 0o600);
  return out;
}

function unreadable(file: string, err: unknown): DatabaseError {
  const detail = err instanceof Error ? err.message : String(err);
  return new DatabaseError(`database ${file} is not readable: ${detail}`, {
    code: 'database_corrupt',
    hint:
      'the daemon will not start on a damaged database (it holds evidence records and the audit chain). ' +
      'Stop the daemon, keep a copy of the file for investigation, and restore it from backup; ' +
      'only move it aside if losing its records is acceptable.',
    cause: err,
  });
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Apply every migration above the current `user_version`, each in its own transaction. */
export function migrate(db: Db, migrations: readonly Migration[], upTo?: number): number {
  const current = schemaVersion(db);
  const known = migrations.length ? migrations[migrations.length - 1]!.version : 0;
  if (current > known) {
    throw new DatabaseError(`database schema version ${current} is newer than this build knows (${known})`, {
      code: 'database_too_new',
      hint: 'run the newer Hindsight version that wrote this database, or restore a backup',
    });
  }
  let applied = current;
  for (const m of migrations) {
    if (m.version <= current) continue;
    if (upTo !== undefined && m.version > upTo) break;
    // Re-read the version under the write lock: another process (a daemon starting while a CLI command
    // runs on the stopped daemon's database) may have applied it in the meantime.
    db.transaction(() => {
      if (schemaVersion(db) >= m.version) return;
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
    applied = m.version;
  }
  return applied;
}

/**
 * A consistent copy of the database file `file` into `dest` (SQLite's online backup: safe while the
 * daemon writes it), and the schema version the copy holds.
 */
export async function snapshotDatabase(file: string, dest: string): Promise<number> {
  let db: Db;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw unreadable(file, err);
  }
  try {
    db.pragma('busy_timeout = 5000');
    createExclusiveFile(dest, '');
    await db.backup(dest);
    chmodSync(dest, 0o600);
    return schemaVersion(db);
  } finally {
    db.close();
  }
}
