import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { DaemonPaths } from '../config/paths.js';
import type { Db } from '../db/db.js';
import type { AuditLog } from '../audit/log.js';
import type { Clock } from '../util/clock.js';
import type { ClockSyncMonitor } from '../util/clock-sync.js';
import type { EventBus } from './events.js';

/** What every service may be given. Only the composition root builds it. */
export interface AppContext {
  config: Config;
  paths: DaemonPaths;
  log: Logger;
  clock: Clock;
  bus: EventBus;
  db: Db;
  audit: AuditLog;
  clockSync: ClockSyncMonitor;
  bootId: string;
  version: string;
}
