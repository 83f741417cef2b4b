import { AuditLog } from '../audit/log.js';
import { openDatabase, type Db } from '../db/db.js';
import { systemClock, type Clock } from '../util/clock.js';
import type { ClockState } from '../util/clock-sync.js';
import { forcePaths } from './paths.js';
import { FORCE_MIGRATIONS } from './db/migrations.js';

export interface ForceDb {
  db: Db;
  audit: AuditLog;
  close(): void;
}

/** The force database (its own file and migrations) with its own audit log (rows carry `clockState`). */
export function openForceDb(dir: string, clock: Clock = systemClock, clockState?: () => ClockState): ForceDb {
  const db = openDatabase(forcePaths(dir).db, { migrations: FORCE_MIGRATIONS });
  // deleted personal data (embeddings, subjects) is overwritten, not just unlinked (see db/purge.ts)
  db.pragma('secure_delete = ON');
  return { db, audit: new AuditLog(db, clock, clockState), close: () => db.open && db.close() };
}
