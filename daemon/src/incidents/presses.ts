import { randomBytes } from 'node:crypto';
import type { AuditActor, AuditLog } from '../audit/log.js';
import type { Config } from '../config/schema.js';
import type { Db } from '../db/db.js';
import { ButtonsRepo, type Button, type ButtonPress } from '../db/repos/buttons.js';
import type { Clock } from '../util/clock.js';
import { sha256 as tokenHash } from '../util/hash.js';
import { newId } from '../util/ids.js';
import type { EvidenceLocker } from './buffer-port.js';
import { IncidentRefused, type IncidentDesk } from './desk.js';
import type { Incident, IncidentActor, ReasonCode } from './model.js';

const SYSTEM: AuditActor = { type: 'system', id: 'button-presses' };
const HOUR_MS = 3_600_000;
const holder = (pressId: string): string => `press-${pressId}`;

export interface ButtonDeskDeps {
  db: Db;
  audit: AuditLog;
  clock: Clock;
  config: Config;
  locks: EvidenceLocker;
  desk: IncidentDesk;
}

/**
 * Hardware incident buttons. A press preserves the moment: the window around it is locked at once on the
 * button's zone (or every camera), so the footage outlives the rolling buffer, but nothing is cut, analysed
 * or sent until a member of staff completes it with a reason and a justification, which logs the incident
 * (as that person) at the moment of the press. A press nobody completes expires after
 * `incidents.press_expiry_min` and its lock is released. Presses are rate-limited like a person.
 */
export class ButtonDesk {
  private readonly repo: ButtonsRepo;

  constructor(private readonly d: ButtonDeskDeps) {
    this.repo = new ButtonsRepo(d.db);
  }

  /** A new button; its token is returned this once (the box keeps only its hash). */
  addButton(by: AuditActor, name: string, zone: string): { button: Button; token: string } {
    const token = randomBytes(32).toString('base64url');
    const id = newId();
    this.d.db.transaction(() => {
      this.repo.insertButton({ id, name: name.trim(), zone: zone.trim(), tokenHash: tokenHash(token), createdUtcMs: this.d.clock.now(), createdBy: by.id });
      this.d.audit.append({ actor: by, action: 'button.added', objectIds: [id], detail: { name: name.trim(), zone: zone.trim() } });
    })();
    return { button: this.repo.button(id)!, token };
  }

  buttons(): Button[] {
    return this.repo.buttons();
  }

  /** The button a token belongs to (undefined: unknown or disabled). */
  authenticate(token: string): Button | undefined {
    if (!token || token.length > 200) return undefined;
    const b = this.repo.byTokenHash(tokenHash(token));
    return b && !b.disabled ? b : undefined;
  }

  /** A press: the window around now is locked on the button's cameras; the press waits for staff. */
  press(button: Button): ButtonPress {
    const now = this.d.clock.now();
    const policy = this.d.config.incidents;
    const plan = this.d.desk.planWindow(button.zone ? { at: 'now', zone: button.zone } : { at: 'now', all: true }, now);
    const id = newId();
    this.d.db
      .transaction(() => {
        if (this.repo.countPressesSince(button.id, now - HOUR_MS) >= policy.per_user_per_hour) {
          throw new IncidentRefused(`button ${button.name} has been pressed ${policy.per_user_per_hour} times in the last hour, the most allowed`, 429, { code: 'rate_limited_user', hint: 'log the incident on the staff page' });
        }
        this.repo.insertPress({ id, buttonId: button.id, pressedUtcMs: now, windowFromMs: plan.windowFrom, windowToMs: plan.windowTo, cameraIds: plan.cameraIds, expiresUtcMs: now + policy.press_expiry_min * 60_000 });
        for (const cam of plan.cameraIds) this.d.locks.acquire(holder(id), cam, plan.windowFrom, plan.windowTo);
        this.d.audit.append({
          actor: { type: 'button', id: button.id },
          action: 'button.pressed',
          objectIds: [id, ...plan.cameraIds],
          detail: { button: button.name, window: [new Date(plan.windowFrom).toISOString(), new Date(plan.windowTo).toISOString()] },
        });
      })
      .immediate();
    return this.repo.press(id)!;
  }

  /** Presses waiting for staff (expired ones are ended first). */
  pending(): ButtonPress[] {
    this.expire();
    return this.repo.pending();
  }

  /** Turn a pending press into an incident logged by `by`, at the moment of the press, on its cameras. */
  complete(pressId: string, by: IncidentActor, reason: ReasonCode, justification: string): Incident {
    this.expire();
    return this.d.db.transaction(() => {
      const p = this.repo.press(pressId);
      if (!p) throw new IncidentRefused('no such button press', 404, { code: 'not_found' });
      if (p.state !== 'pending') throw new IncidentRefused(p.state === 'expired' ? 'this button press expired: its footage is no longer held' : 'this button press was already completed', 409, { code: `press_${p.state}` });
      const incident = this.d.desk.log({
        at: new Date(p.pressedUtcMs).toISOString(),
        before_s: Math.round((p.pressedUtcMs - p.windowFromMs) / 1000),
        after_s: Math.round((p.windowToMs - p.pressedUtcMs) / 1000),
        cameras: p.cameraIds,
        reason,
        justification,
        by,
      });
      // the incident holds its own lock on the window now
      this.d.locks.releaseAll(holder(p.id));
      this.repo.end(p.id, 'completed', this.d.clock.now(), incident.id);
      this.d.audit.append({ actor: by, action: 'button.press_completed', objectIds: [p.id, incident.id] });
      return incident;
    })();
  }

  /** End every press past its time: lock released, audited. */
  expire(): number {
    const now = this.d.clock.now();
    let n = 0;
    for (const p of this.repo.pendingExpiredBy(now)) {
      this.d.db.transaction(() => {
        if (!this.repo.end(p.id, 'expired', now, null)) return;
        this.d.locks.releaseAll(holder(p.id));
        this.d.audit.append({ actor: SYSTEM, action: 'button.press_expired', objectIds: [p.id], detail: { pressed: new Date(p.pressedUtcMs).toISOString(), lock_released: true } });
        n++;
      })();
    }
    return n;
  }
}
