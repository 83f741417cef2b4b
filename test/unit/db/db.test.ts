import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openDatabase, schemaVersion, type DatabaseError } from '../../../daemon/src/db/db.js';
import { MIGRATIONS, type Migration } from '../../../daemon/src/db/migrations/index.js';
import { tempDir } from '../../helpers/paths.js';

const LATEST = MIGRATIONS[MIGRATIONS.length - 1]!.version;

describe('database', () => {
  it('creates a fresh database with WAL, foreign keys, STRICT tables and the latest schema', () => {
    const file = path.join(tempDir(), 'db', 'h.db');
    const db = openDatabase(file);
    expect(schemaVersion(db)).toBe(LATEST);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    const tables = db.prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string; sql: string }[];
    expect(tables.length).toBeGreaterThan(0);
    for (const t of tables) expect(t.sql, `table ${t.name}`).toMatch(/\)\s*STRICT\s*$/);
    db.close();
  });

  it('upgrades an old schema in place, keeping its rows', () => {
    const file = path.join(tempDir(), 'h.db');
    const v1 = openDatabase(file, { migrateTo: 1 });
    expect(schemaVersion(v1)).toBe(1);
    v1.prepare("INSERT INTO meta (key, value) VALUES ('first_start', '2026-01-01')").run();
    v1.close();
    const extra: Migration = { version: LATEST + 1, name: 'test_extra', sql: 'CREATE TABLE extra (id INTEGER PRIMARY KEY, note TEXT NOT NULL) STRICT;' };
    const db = openDatabase(file, { migrations: [...MIGRATIONS, extra] });
    expect(schemaVersion(db)).toBe(LATEST + 1);
    expect(db.prepare("SELECT value FROM meta WHERE key = 'first_start'").get()).toEqual({ value: '2026-01-01' });
    expect(() => db.prepare('SELECT * FROM extra').all()).not.toThrow();
    db.close();
  });

  it('013 rebuilds the outbox (kinds, rejected) keeping every queued envelope and its chunks', () => {
    const file = path.join(tempDir(), 'h.db');
    const v12 = openDatabase(file, { migrateTo: 12 });
    v12.prepare("INSERT INTO outbox (envelope_id, incident_id, msg_seq, created_utc, state, manifest, n_chunks, bytes, body_sha256, working_files) VALUES ('e1', 'i1', 1, 5, 'pending', '{}', 2, 10, 'ab', '[\"/x\"]')").run();
    v12.prepare("INSERT INTO outbox (envelope_id, incident_id, msg_seq, created_utc, state, manifest, n_chunks, bytes, body_sha256, delivered_utc) VALUES ('e0', 'i0', 0, 1, 'delivered', '{}', 1, 3, 'cd', 9)").run();
    v12.prepare("INSERT INTO outbox_chunks (envelope_id, idx, data) VALUES ('e1', 0, x'0102'), ('e1', 1, x'03')").run();
    v12.close();
    const db = openDatabase(file);
    expect(schemaVersion(db)).toBe(LATEST);
    expect(db.prepare('SELECT envelope_id, kind, state, working_files, delivered_utc, rejected_reason FROM outbox ORDER BY msg_seq').all()).toEqual([
      { envelope_id: 'e0', kind: 'evidence', state: 'delivered', working_files: '[]', delivered_utc: 9, rejected_reason: null },
      { envelope_id: 'e1', kind: 'evidence', state: 'pending', working_files: '["/x"]', delivered_utc: null, rejected_reason: null },
    ]);
    expect(db.prepare('SELECT idx, hex(data) AS d FROM outbox_chunks WHERE envelope_id = ? ORDER BY idx').all('e1')).toEqual([{ idx: 0, d: '0102' }, { idx: 1, d: '03' }]);
    // the chunks still belong to their envelope (the foreign key follows the rebuilt table)
    db.prepare("DELETE FROM outbox WHERE envelope_id = 'e1'").run();
    expect(db.prepare('SELECT COUNT(*) AS n FROM outbox_chunks').get()).toEqual({ n: 0 });
    expect(db.pragma('foreign_key_check')).toEqual([]);
    db.close();
  });

  it('rolls back a failing migration and leaves the version where it was', () => {
    const file = path.join(tempDir(), 'h.db');
    openDatabase(file).close();
    const broken: Migration = { version: LATEST + 1, name: 'broken', sql: 'CREATE TABLE ok_part (x INTEGER) STRICT; CREATE TABLE meta (dup TEXT) STRICT;' };
    expect(() => openDatabase(file, { migrations: [...MIGRATIONS, broken] })).toThrow(/not readable|already exists/);
    const db = new Database(file);
    expect(db.pragma('user_version', { simple: true })).toBe(LATEST);
    expect(db.prepare("SELECT count(*) n FROM sqlite_schema WHERE name = 'ok_part'").get()).toEqual({ n: 0 });
    db.close();
  });

  it('refuses a corrupt file with a message naming it, and does not re-create it', () => {
    const file = path.join(tempDir(), 'h.db');
    openDatabase(file).close();
    const original = readFileSync(file);
    const damaged = Buffer.from(original);
    damaged.fill(0x5a, 0, 100); // destroy the header
    writeFileSync(file, damaged);
    let error: DatabaseError | undefined;
    try {
      openDatabase(file);
    } catch (err) {
      error = err as DatabaseError;
    }
    expect(error?.message).toContain(file);
    expect(error?.hint).toMatch(/restore/);
    expect(readFileSync(file).equals(damaged)).toBe(true);
  });

  it('refuses a database written by a newer version', () => {
    const file = path.join(tempDir(), 'h.db');
    const raw = new Database(file);
    raw.pragma(`user_version = ${LATEST + 5}`);
    raw.close();
    expect(() => openDatabase(file)).toThrow(/newer than this build/);
  });

  it('stores injection strings verbatim', () => {
    const db = openDatabase(path.join(tempDir(), 'h.db'));
    const evil = "x'); DROP TABLE meta; --";
    db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run(evil, evil);
    expect(db.prepare('SELECT value FROM meta WHERE key = ?').get(evil)).toEqual({ value: evil });
    db.close();
  });
});

describe('transactions between processes', () => {
  it('a write transaction that reads first waits for another process\'s commit instead of failing busy', async () => {
    const { spawnChild } = await import('../../../daemon/src/util/child.js');
    const file = path.join(tempDir(), 'h.db');
    const db = openDatabase(file);
    db.prepare("INSERT INTO meta (key, value) VALUES ('n', '0')").run();
    // another process holds the write lock for 700 ms, then commits
    const other = spawnChild(process.execPath, ['-e', `
      const D = require(${JSON.stringify(require.resolve('better-sqlite3'))});
      const o = new D(${JSON.stringify(file)}); o.pragma('busy_timeout = 5000');
      o.exec('BEGIN IMMEDIATE'); o.prepare("UPDATE meta SET value = 'other' WHERE key = 'n'").run();
      console.log('LOCKED'); setTimeout(() => { o.exec('COMMIT'); o.close(); }, 700);`]);
    await new Promise<void>((resolve) => other.proc.stdout?.on('data', (d: Buffer) => d.toString().includes('LOCKED') && resolve()));
    // read, then write, in one transaction: with a deferred BEGIN this fails at once with SQLITE_BUSY
    const result = db.transaction(() => {
      const before = db.prepare("SELECT value FROM meta WHERE key = 'n'").pluck().get();
      db.prepare("UPDATE meta SET value = 'mine' WHERE key = 'n'").run();
      return before;
    })();
    expect(result).toBe('other');
    await other.exited;
    db.close();
  });
});

describe('upgrading a database: the daemon alone, after a backup', () => {
  const LATEST = MIGRATIONS[MIGRATIONS.length - 1]!.version;

  /** A database at schema 12 holding one camera (written as version 12 had it). */
  const oldDatabase = (): { dir: string; file: string } => {
    const dir = tempDir('hs-db-upgrade-');
    const file = path.join(dir, 'hindsight.db');
    const old = openDatabase(file, { migrateTo: 12 });
    old.prepare("INSERT INTO meta (key, value) VALUES ('marker', 'kept')").run();
    old.close();
    return { dir, file };
  };

  it('a command refuses an older database with the remedy, and leaves it as it was', () => {
    const { file } = oldDatabase();
    for (const readonly of [false, true]) {
      let err: DatabaseError | undefined;
      try {
        openDatabase(file, { upgrade: 'refuse', readonly });
      } catch (e) {
        err = e as DatabaseError;
      }
      expect(err?.code).toBe('database_too_old');
      expect(err?.message).toMatch(`schema version 12, older than this build's ${LATEST}`);
      expect(err?.hint).toMatch(/start the daemon once/);
    }
    const check = new Database(file, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(12);
    check.close();
    // a new database is no upgrade: a command may create it
    const fresh = openDatabase(path.join(tempDir('hs-db-new-'), 'hindsight.db'), { upgrade: 'refuse' });
    expect(schemaVersion(fresh)).toBe(LATEST);
    fresh.close();
  });

  it('the daemon copies the database as it was (owner-only) before migrating it', () => {
    const { dir, file } = oldDatabase();
    const copies: { file: string; version: number }[] = [];
    const db = openDatabase(file, { backupDir: path.join(dir, 'backups'), onBackup: (f, version) => copies.push({ file: f, version }) });
    expect(schemaVersion(db)).toBe(LATEST);
    db.close();
    expect(copies).toHaveLength(1);
    expect(copies[0]!.version).toBe(12);
    expect(path.basename(copies[0]!.file)).toMatch(/^hindsight\.schema-12\.\d{8}T\d{6}Z\.db$/);
    expect(statSync(copies[0]!.file).mode & 0o777).toBe(0o600);
    const copy = new Database(copies[0]!.file, { readonly: true });
    expect(copy.pragma('user_version', { simple: true })).toBe(12);
    expect(copy.prepare("SELECT value FROM meta WHERE key = 'marker'").get()).toEqual({ value: 'kept' });
    expect(copy.pragma('integrity_check', { simple: true })).toBe('ok');
    copy.close();
    // opened again at the latest schema: no second copy
    openDatabase(file, { backupDir: path.join(dir, 'backups'), onBackup: (f, version) => copies.push({ file: f, version }) }).close();
    expect(copies).toHaveLength(1);
  });
});
