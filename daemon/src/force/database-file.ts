import { openDatabase, type Db } from '../db/db.js';
import { FORCE_MIGRATIONS } from './db/migrations.js';
import { forcePaths } from './paths.js';

/** What the force says when it has upgraded its database: on stderr, which is the journal under systemd. */
const sayUpgraded = (file: string, version: number): void =>
  void process.stderr.write(`hindsight-force: database upgraded from schema version ${version}; its previous state is kept in ${file} (rolling back: see the README's Operating section)\n`);

/**
 * The force database file, opened, checked and migrated as every force command has it. database.ts adds
 * its audit log; a command that only reads (`fleet list`) opens it bare and does not load the audit chain.
 * The first command of a new release on an older database migrates it, and first copies it as it was to
 * `<force dir>/backups/force.schema-<old version>.<time>.db` (owner-only): the rollback to the previous release.
 */
export function openForceDatabase(dir: string, options: { quickCheck?: boolean; onBackup?: (file: string, version: number) => void } = {}): Db {
  const paths = forcePaths(dir);
  const db = openDatabase(paths.db, { migrations: FORCE_MIGRATIONS, quickCheck: options.quickCheck, backupDir: paths.backups, onBackup: options.onBackup ?? sayUpgraded });
  // deleted personal data (embeddings, subjects) is overwritten, not just unlinked (see db/purge.ts)
  db.pragma('secure_delete = ON');
  return db;
}
