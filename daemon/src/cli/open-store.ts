import os from 'node:os';
import { AuditLog, type AuditActor } from '../audit/log.js';
import { daemonPaths, type DaemonPaths } from '../config/paths.js';
import type { Config } from '../config/schema.js';
import { openDatabase, type Db } from '../store/db.js';
import { systemClock, type Clock } from '../util/clock.js';
import { ClockSyncMonitor } from '../util/clock-sync.js';
import { loadCliConfig } from './config-file.js';

/** The database as a CLI command uses it (also while the daemon runs: WAL and a busy timeout make that safe). */
export interface CliStore {
  config: Config;
  paths: DaemonPaths;
  db: Db;
  audit: AuditLog;
  clock: Clock;
  /** The clock's NTP state, read once when the store was opened. */
  clockSync: ClockSyncMonitor;
  /** Who is acting: the operator's login name. */
  actor: AuditActor;
  close(): void;
}

export async function openCliStore(configOption: string | undefined): Promise<CliStore> {
  const config = loadCliConfig(configOption);
  const paths = daemonPaths(config);
  const db = openDatabase(paths.database);
  const sync = new ClockSyncMonitor();
  await sync.refresh();
  return {
    config,
    paths,
    db,
    audit: new AuditLog(db, systemClock, () => sync.current()),
    clock: systemClock,
    clockSync: sync,
    actor: { type: 'cli', id: os.userInfo().username },
    close: () => db.close(),
  };
}

/** Run `fn` with the store open, closing it whatever happens. */
export async function withCliStore<T>(configOption: string | undefined, fn: (store: CliStore) => Promise<T> | T): Promise<T> {
  const store = await openCliStore(configOption);
  try {
    return await fn(store);
  } finally {
    store.close();
  }
}
