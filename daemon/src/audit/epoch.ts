import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { AuditLog } from './log.js';
import type { Db } from '../db/db.js';
import { MetaRepo } from '../db/repos/meta.js';
import { newId } from '../util/ids.js';

/**
 * Epochs: a box restored from a backup goes back in time (its audit chain, its envelope numbers, the
 * command sequences it saw). Each restore starts a new epoch, so that what it sends next is not taken for
 * a replay or a truncated log:
 * - envelope numbers jump to at least the restore time in ms (the force refuses a number used twice);
 * - commands issued before the restore are refused (their sequence numbers may be above what the old
 *   copy saw: a replay of one would otherwise pass);
 * - an audit row `system.restored` starts the epoch, and every audit head names the epoch and carries the
 *   force's signed acknowledgement the backup held, so the force checks that the new chain extends a head
 *   it acknowledged itself, records the restore (with how many acknowledged rows the backup lacked) and
 *   acknowledges the new head: the epoch is acknowledged once the force's acknowledgement covers that row.
 * `hindsight restore` leaves a marker file; the daemon applies it at its next start, after migrating, so
 * the daemon stays the only writer of its database.
 */

export const RESTORE_MARKER = 'restore.json';

export interface RestoreMarker {
  backup_created_at: number;
  backup_audit: { count: number; head_hash: string };
  previous_epoch: number;
  restored_at: number;
  restored_by: string;
  from_file: string;
}

export interface Epoch {
  n: number;
  id: string;
  started_utc: number;
  /** The audit chain as the backup held it. */
  base: { count: number; head_hash: string };
  /** The `system.restored` row that starts the epoch. */
  audit_seq: number;
}

const EPOCH_KEY = 'system.epoch';
const COMMANDS_NOT_BEFORE_KEY = 'fleet.commands_not_before';
const MSG_SEQ_KEY = 'uplink.msg_seq';

export function readEpoch(db: Db): Epoch | undefined {
  const text = new MetaRepo(db).get(EPOCH_KEY);
  return text ? (JSON.parse(text) as Epoch) : undefined;
}

/** Commands issued (iat) before this time are refused: the box was restored then. */
export function commandsNotBefore(db: Db): number | undefined {
  const text = new MetaRepo(db).get(COMMANDS_NOT_BEFORE_KEY);
  return text === undefined ? undefined : Number(text);
}

/**
 * At daemon start: when `hindsight restore` left its marker, start the new epoch (one transaction with
 * its audit row) and remove the marker. Returns the epoch started, if any.
 */
export function applyRestoreMarker(d: { db: Db; audit: AuditLog; stateDir: string; now: () => number; log: Logger }): Epoch | undefined {
  const file = path.join(d.stateDir, RESTORE_MARKER);
  if (!existsSync(file)) return undefined;
  const marker = JSON.parse(readFileSync(file, 'utf8')) as RestoreMarker;
  const meta = new MetaRepo(d.db);
  const epoch = d.db.transaction((): Epoch => {
    const now = d.now();
    const n = Math.max(marker.previous_epoch, readEpoch(d.db)?.n ?? 0) + 1;
    const head = d.audit.head();
    meta.set(MSG_SEQ_KEY, String(Math.max(Number(meta.get(MSG_SEQ_KEY) ?? 0), now)));
    meta.set(COMMANDS_NOT_BEFORE_KEY, String(now));
    const row = d.audit.append({
      actor: { type: 'cli', id: marker.restored_by },
      action: 'system.restored',
      detail: { epoch: n, backup_created_at: marker.backup_created_at, backup_rows: marker.backup_audit.count, restored_at: marker.restored_at, from_file: marker.from_file },
    });
    const e: Epoch = { n, id: newId(), started_utc: now, base: { count: head.count, head_hash: head.head_hash }, audit_seq: row.seq };
    meta.set(EPOCH_KEY, JSON.stringify(e));
    return e;
  })();
  rmSync(file, { force: true });
  d.log.warn({ epoch: epoch.n, backup_created_at: new Date(marker.backup_created_at).toISOString(), restored_by: marker.restored_by }, `restored from a backup of ${new Date(marker.backup_created_at).toISOString()}: epoch ${epoch.n} starts; the force is told with the next audit head`);
  return epoch;
}
