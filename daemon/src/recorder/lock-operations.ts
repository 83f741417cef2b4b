import { inputObject, inputString, type Operation } from '../control/operations.js';
import { CamerasRepo } from '../db/repos/cameras.js';
import { EvidenceLocks, type EvidenceLock } from '../db/repos/evidence-locks.js';
import { IncidentsRepo } from '../db/repos/incidents.js';
import { HindsightError, UsageError } from '../util/errors.js';
import { assertSafeId } from '../util/ids.js';

const DAY_MS = 86_400_000;
const MIN_REASON = 10;

export interface LockInput {
  camera: string;
  fromUtcMs: number;
  toUtcMs: number;
  holder: string;
  reason: string;
}

/**
 * An operator's evidence lock: footage kept from deletion is evidence, so the lock names a registered
 * camera, says why (audited), and is bounded by `buffer.max_lock_days`. Incident ids are not valid
 * holders: an incident's locks belong to the incident (released when it is delivered or cancelled).
 */
export const bufferLock: Operation<LockInput, EvidenceLock> = {
  name: 'buffer.lock',
  run(ctx, input) {
    const o = inputObject(input);
    const camera = assertSafeId(o.camera, 'camera id');
    const holder = inputString(o, 'holder', true)!;
    const reason = inputString(o, 'reason', false) ?? '';
    const { fromUtcMs, toUtcMs } = o;
    if (reason.trim().length < MIN_REASON) {
      throw new UsageError(`a lock needs a reason of at least ${MIN_REASON} characters`, { hint: 'say why the footage must be kept, e.g. --reason "police asked for till 2, crime ref 12/3456"' });
    }
    if (typeof fromUtcMs !== 'number' || typeof toUtcMs !== 'number' || !Number.isFinite(fromUtcMs) || !Number.isFinite(toUtcMs) || toUtcMs <= fromUtcMs) {
      throw new UsageError('a lock needs a start before its end', { hint: 'give --from earlier than --to' });
    }
    const maxDays = ctx.config.buffer.max_lock_days;
    const now = ctx.clock.now();
    if (toUtcMs - fromUtcMs > maxDays * DAY_MS) {
      throw new UsageError(`a lock may cover at most ${maxDays} days (buffer.max_lock_days); this one covers ${((toUtcMs - fromUtcMs) / DAY_MS).toFixed(1)}`, { hint: 'lock only the time that matters, or ask the administrator to raise buffer.max_lock_days' });
    }
    if (toUtcMs > now + maxDays * DAY_MS) {
      throw new UsageError(`a lock may end at most ${maxDays} days from now (buffer.max_lock_days)`, { hint: 'give an earlier --to; a new lock can be taken later' });
    }
    if (!new CamerasRepo(ctx.db).get(camera)) {
      throw new UsageError(`there is no camera ${camera}`, { code: 'unknown_camera', hint: '`hindsight camera list` shows the cameras' });
    }
    if (new IncidentsRepo(ctx.db).get(holder)) {
      throw new UsageError(`${holder} is an incident: its footage is already locked by the incident`, { hint: 'choose another holder name for your own lock' });
    }
    return ctx.db.transaction(() => {
      const l = new EvidenceLocks(ctx.db, ctx.clock).acquire(holder, camera, fromUtcMs, toUtcMs);
      ctx.audit.append({ actor: ctx.actor, action: 'buffer.locked', objectIds: [l.id, camera], justification: reason.trim(), detail: { holder, from_utc_ms: l.fromUtcMs, to_utc_ms: l.toUtcMs } });
      return l;
    })();
  },
};

/** Release an operator's locks. Locks held by an incident are refused: cancel the incident instead. */
export const bufferUnlock: Operation<{ holder: string }, EvidenceLock[]> = {
  name: 'buffer.unlock',
  run(ctx, input) {
    const holder = inputString(inputObject(input), 'holder', true)!;
    if (holder.length === 0) throw new UsageError('give the holder of the locks (--holder)');
    const incident = new IncidentsRepo(ctx.db).get(holder);
    if (incident) {
      throw new HindsightError(`the locks of ${holder} belong to incident ${holder} (${incident.state}) and are released by it`, {
        code: 'incident_lock',
        hint: 'they are released when its evidence is delivered; to give the footage up now, cancel the incident (`hindsight incident cancel`)',
      });
    }
    return ctx.db.transaction(() => {
      const r = new EvidenceLocks(ctx.db, ctx.clock).releaseAll(holder);
      if (r.length) ctx.audit.append({ actor: ctx.actor, action: 'buffer.unlocked', objectIds: r.map((l) => l.id), detail: { holder, locks: r.length } });
      return r;
    })();
  },
};

export const LOCK_OPERATIONS: readonly Operation[] = [bufferLock, bufferUnlock];
