import type { AuditActor } from '../../audit/log.js';
import { cliActor } from '../../program/operator.js';
import { systemClock } from '../../util/clock.js';
import { ClockSyncMonitor } from '../../util/clock-sync.js';
import { openForceDb, type ForceDb } from '../database.js';

/** The force database as an operator's command uses it. */
export interface ForceSession extends ForceDb {
  /** Who is acting: the operator's login name. */
  actor: AuditActor;
}

/** Open the force database so its audit rows carry the clock's real NTP state (as the box's do) and the operator. */
export async function openForceSession(dir: string): Promise<ForceSession> {
  const sync = new ClockSyncMonitor();
  await sync.refresh();
  return { ...openForceDb(dir, systemClock, () => sync.current()), actor: cliActor() };
}

/** Run `fn` with the force database open, closing it whatever happens. */
export async function withForceSession<T>(dir: string, fn: (s: ForceSession) => Promise<T> | T): Promise<T> {
  const s = await openForceSession(dir);
  try {
    return await fn(s);
  } finally {
    s.close();
  }
}
