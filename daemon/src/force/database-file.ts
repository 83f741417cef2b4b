import { openDatabase, type Db } from '../db/db.js';
import { FORCE_MIGRATIONS } from './db/migrations.js';
import { forcePaths } from './paths.js';

/**
 * The force database file, opened, checked and migrated as every force command has it. database.ts adds
 * its audit log; a command that only reads (`fleet list`) opens it bare and does not load the audit chain.
 */
export function openForceDatabase(dir: string, options: { quickCheck?: boolean } = {}): Db {
  const db = openDatabase(forcePaths(dir).db, { migrations: FORCE_MIGRATIONS, quickCheck: options.quickCheck });
  // deleted personal data (embeddings, subjects) is overwritten, not just unlinked (see db/purge.ts)
  db.pragma('secure_delete = ON');
  return db;
}
