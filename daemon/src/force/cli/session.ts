import type { AuditActor } from '../../audit/log.js';
import { cliActor } from '../../program/operator.js';
import { systemClock } from '../../util/clock.js';
import { ClockSyncMonitor } from '../../util/clock-sync.js';
import { UsageError } from '../../util/errors.js';
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

/** A justification worth auditing: at least three words (a usage error, exit 2, otherwise). */
export function requireJustification(text: string | undefined, option = '--reason'): string {
  const reason = (text ?? '').trim();
  const words = reason.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w));
  if (words.length < 3) {
    throw new UsageError(`${option} must say why, in at least three words (got ${reason ? JSON.stringify(reason.slice(0, 80)) : 'nothing'})`, {
      hint: `e.g. ${option} "linking shop thefts, case 2026/0417"; it is recorded in the force's audit log`,
    });
  }
  return reason;
}
