import { existsSync } from 'node:fs';
import { AuditLog, type AuditActor } from '../audit/log.js';
import { daemonPaths } from '../config/paths.js';
import type { BoxDb } from '../control/operations.js';
import { openDatabase } from '../db/db.js';
import { systemClock } from '../util/clock.js';
import { ClockSyncMonitor } from '../util/clock-sync.js';
import { HindsightError } from '../util/errors.js';
import { cliActor } from '../program/operator.js';
import { BoxSettings } from '../kernel/settings.js';
import { ForcePolicy } from '../kernel/force-config.js';
import { silentLogger } from '../log/logger.js';
import { loadCliConfig } from './config-file.js';

/** The database as a CLI command uses it (also while the daemon runs: WAL and a busy timeout make that safe). */
export interface CliDb extends BoxDb {
  /** Who is acting: the operator's login name. */
  actor: AuditActor;
  close(): void;
}

export interface CliDbOptions {
  /**
   * Open without writing or migrating: for commands that only read (status, lists, audit export). They may
   * run beside the daemon, which stays the only writer.
   */
  readonly?: boolean;
}

export async function openCliDb(configOption: string | undefined, options: CliDbOptions = {}): Promise<CliDb> {
  const config = loadCliConfig(configOption);
  const paths = daemonPaths(config);
  if (options.readonly && !existsSync(paths.database)) {
    throw new HindsightError(`there is no database yet at ${paths.database}`, {
      code: 'no_database',
      hint: 'the daemon creates it when it first runs: start it (`systemctl start hindsight`, or `hindsight run --config FILE`)',
    });
  }
  // only the daemon upgrades an existing database (after a backup); a new one is created here as by the daemon
  const db = openDatabase(paths.database, { readonly: options.readonly, upgrade: 'refuse' });
  const sync = new ClockSyncMonitor();
  await sync.refresh();
  const audit = new AuditLog(db, systemClock, () => sync.current());
  // the force's caps and what a manager set in the web app (hours kept, windows) are what the daemon uses:
  // the CLI shows the same
  const d = { config, db, audit, clock: systemClock, log: silentLogger };
  new ForcePolicy(d).applyStored({ daemon: false });
  new BoxSettings(d).applyStored();
  return {
    config,
    paths,
    db,
    audit,
    clock: systemClock,
    clockSync: sync,
    actor: cliActor(),
    close: () => db.close(),
  };
}

/** Run `fn` with the database open, closing it whatever happens. */
export async function withCliDb<T>(configOption: string | undefined, fn: (store: CliDb) => Promise<T> | T, options: CliDbOptions = {}): Promise<T> {
  const store = await openCliDb(configOption, options);
  try {
    return await fn(store);
  } finally {
    store.close();
  }
}
