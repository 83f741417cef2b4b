import { AuditLog } from '../audit/log.js';
import type { Db } from '../db/db.js';
import { systemClock, type Clock } from '../util/clock.js';
import type { ClockState } from '../util/clock-sync.js';
import { openForceDatabase } from './database-file.js';

export interface ForceDb {
  db: Db;
  audit: AuditLog;
  close(): void;
}

/** The force database (its own file and migrations) with its own audit log (rows carry `clockState`). */
export function openForceDb(dir: string, clock: Clock = systemClock, clockState?: () => ClockState): ForceDb {
  const db = openForceDatabase(dir);
  return { db, audit: new AuditLog(db, clock, clockState), close: () => db.open && db.close() };
}
