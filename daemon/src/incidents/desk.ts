import { rmSync } from 'node:fs';
import type { AuditActor } from '../audit/log.js';
import { OutboxRepo, type EnvelopeDelivery } from '../db/repos/outbox.js';
import type { EventBus } from '../kernel/events.js';
import { HindsightError } from '../util/errors.js';
import { isSafeId, newId } from '../util/ids.js';
import type { BufferIndex, CameraDirectory, EvidenceLocker } from './buffer-port.js';
import { CANCELLABLE_STATES, REASON_CODES, type Incident, type IncidentActor, type IncidentCamera, type IncidentState, type ReasonCode } from './model.js';
import type { IncidentCore } from './state.js';
import { parseWhen } from '../util/when.js';
import { incidentDir } from './paths.js';
import { FORCE_REJECTED } from './deliver.js';

/** A refusal the caller can act on; `status` is the HTTP status the control API answers with. */
export class IncidentRefused extends HindsightError {
  constructor(
    message: string,
    readonly status: 400 | 404 | 409 | 429 | 503,
    options: { hint?: string; code?: string } = {},
  ) {
    super(message, options);
  }
}

export interface LogIncidentRequest {
  /** When it happened: "now", "20 minutes ago", "-90s" or an ISO time with a zone. Default now. */
  at?: string;
  before_s?: number;
  after_s?: number;
  cameras?: string[];
  zone?: string;
  all?: boolean;
  reason: string;
  justification: string;
  by: IncidentActor;
  /** The member of staff an operator logs it for (a note in the audit row; `by` is who acted). */
  on_behalf_of?: string;
}

/** How far the face analysis is (while analysing), and what it found (once done). */
export interface IncidentProgress {
  stage: 'faces' | 'faces_done';
  frames_done: number;
  frames_total: number;
  /** Once done: distinct people found, and the pictures kept of them. */
  subjects?: number;
  crops?: number;
}

export interface IncidentView extends Incident {
  cameras: IncidentCamera[];
  /** Place in the extraction queue (1 = next) while waiting for its turn. */
  queuePosition: number | null;
  progress: IncidentProgress | null;
  /** Its sealed evidence on the way to the force (attempts, sent, the force's receipt); null before sealing. */
  delivery: EnvelopeDelivery | null;
  /** Failed attempts of a step after which it waits for a person (the box's policy). */
  maxAttempts: number;
}

export const OPEN_STATES: readonly IncidentState[] = ['logged', 'waiting', 'extracting', 'analysing', 'sealed', 'sending', 'failed'];
export const MIN_JUSTIFICATION = 10;
const MAX_JUSTIFICATION = 2000;
/** States of an incident waiting its turn with the extraction worker (it shows its place in the queue). */
const QUEUED_STATES: readonly Exclude<IncidentState, 'failed'>[] = ['logged', 'waiting', 'extracting'];
const HOUR_MS = 3_600_000;
// Control characters other than tab/newline have no place in a justification (log and UI injection).
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u0008\u000b-\u001f\u007f]/;

export interface IncidentDeskDeps extends IncidentCore {
  buffer: BufferIndex;
  cameras: CameraDirectory;
  locks: EvidenceLocker;
  bus: EventBus;
  /** Root of incident working files; a cancelled incident's files are deleted. */
  evidenceDir: string;
}

/**
 * What staff, managers and operators can do with incidents. The CLI (through the daemon's control
 * socket) and the web UI call this; it validates, applies the limits, and records every step.
 */
export class IncidentDesk {
  private readonly outbox: OutboxRepo;

  constructor(private readonly d: IncidentDeskDeps) {
    this.outbox = new OutboxRepo(d.db);
  }

  log(req: LogIncidentRequest): Incident {
    const now = this.d.clock.now();
    const by = this.checkActor(req.by);
    const reason = this.checkReason(req.reason);
    const justification = this.checkJustification(req.justification);

    const { at, windowFrom, windowTo, selector, cameraIds } = this.planWindow(req, now);

    const incident: Incident = {
      id: newId(),
      state: 'logged',
      failedState: null,
      failure: null,
      failureCode: null,
      wait: null,
      loggedAtMs: now,
      incidentAtMs: at,
      windowFromMs: windowFrom,
      windowToMs: windowTo,
      reason,
      justification,
      loggedBy: by,
      cameraSelector: selector,
      attempts: 0,
      updatedAtMs: now,
    };
    this.d.db
      .transaction(() => {
        // Limits are checked inside the write transaction so a burst cannot slip past them.
        this.checkLimits(by, now);
        this.d.repo.insert(incident, cameraIds);
        // Lock first: nothing may delete this footage from the moment it is logged.
        for (const cam of cameraIds) this.d.locks.acquire(incident.id, cam, windowFrom, windowTo);
        this.d.audit.append({
          actor: by,
          action: 'incident.logged',
          objectIds: [incident.id, ...cameraIds],
          justification,
          detail: {
            reason,
            at: new Date(at).toISOString(),
            window: [new Date(windowFrom).toISOString(), new Date(windowTo).toISOString()],
            cameras: selector,
            ...(req.on_behalf_of ? { on_behalf_of: req.on_behalf_of } : {}),
          },
        });
      })
      .immediate();
    this.d.bus.emit('incident.logged', { incidentId: incident.id });
    return incident;
  }

  /**
   * The time, window and cameras a request asks for, checked: a time not in the future, a window within the
   * cap, cameras chosen one way, and footage there to cut. Used by `log` and by a button press.
   */
  planWindow(req: Pick<LogIncidentRequest, 'at' | 'before_s' | 'after_s' | 'cameras' | 'zone' | 'all'>, now: number): { at: number; windowFrom: number; windowTo: number; selector: Incident['cameraSelector']; cameraIds: string[] } {
    const policy = this.d.config.incidents;
    let at: number;
    try {
      at = parseWhen(req.at ?? 'now', now);
    } catch (err) {
      throw new IncidentRefused((err as HindsightError).message, 400, { hint: (err as HindsightError).hint, code: 'bad_time' });
    }
    if (at > now + policy.max_future_s * 1000) {
      throw new IncidentRefused(`the incident time ${new Date(at).toISOString()} is in the future`, 400, {
        code: 'time_in_future',
        hint: 'log it when it happens, or give a time in the past ("20 minutes ago")',
      });
    }
    const before = this.checkSeconds(req.before_s, policy.window_before_s, 'before_s');
    const after = this.checkSeconds(req.after_s, policy.window_after_s, 'after_s');
    const cap = Math.min(policy.max_window_s, 600);
    if (before + after > cap) {
      throw new IncidentRefused(`the window of ${before + after} s is longer than the ${cap} s allowed`, 400, {
        code: 'window_too_long',
        hint: `ask for at most ${cap} seconds in all (before + after); log two incidents for a longer event`,
      });
    }
    if (before + after <= 0) throw new IncidentRefused('the window is empty', 400, { code: 'window_empty', hint: 'give seconds before and/or after the incident time' });
    const windowFrom = at - before * 1000;
    const windowTo = at + after * 1000;

    const { selector, cameraIds } = this.selectCameras(req);
    const never = cameraIds.map((c) => this.d.buffer.whyNeverRecorded(c));
    if (never.every((why) => why !== null)) {
      throw new IncidentRefused(`there is no footage to cut: ${never.join('; ')}`, 400, {
        code: 'never_recorded',
        hint: '`hindsight camera test ID` says what is wrong with the camera; `hindsight buffer status` shows what each camera has recorded',
      });
    }
    if (windowTo <= now && cameraIds.every((c) => (this.d.buffer.oldestSegmentStart(c) ?? Infinity) >= windowTo)) {
      throw new IncidentRefused('there is no footage for that time: it is older than the rolling buffer', 400, {
        code: 'outside_buffer',
        hint: 'the box only keeps the last hours of video; check the time, or get the footage from another source',
      });
    }

    return { at, windowFrom, windowTo, selector, cameraIds };
  }

  cancel(id: string, by: AuditActor, justification: string): Incident {
    const incident = this.get(id);
    if (!CANCELLABLE_STATES.includes(incident.state)) {
      throw new IncidentRefused(`incident ${id} is ${incident.state} and can no longer be cancelled`, 409, {
        code: 'not_cancellable',
        hint: incident.state === 'sending' || incident.state === 'delivered' ? 'the evidence has left the box; ask the force to withdraw it' : undefined,
      });
    }
    const why = this.checkJustification(justification);
    const updated = this.d.machine.transition(id, 'cancelled', {
      actor: by,
      justification: why,
      reason: 'cancelled by a person',
      alsoInTransaction: () => {
        this.refuseIfSealed(id);
        this.d.locks.releaseAll(id);
        this.d.audit.append({ actor: by, action: 'evidence.erased', objectIds: [id], detail: { what: 'master clips and working files of a cancelled incident' } });
      },
    });
    // Nothing of a cancelled incident is kept: its clips and crops go (the audit row says so).
    rmSync(incidentDir(this.d.evidenceDir, id), { recursive: true, force: true });
    this.d.bus.emit('incident.changed', { incidentId: id, state: 'cancelled' });
    return updated;
  }

  /**
   * An incident whose envelope is in the outbox is sent (or was) whatever its state says: cancelling it
   * would "erase" evidence that still leaves the box. Checked inside the cancel transaction, so a
   * sealing that lands at the same moment cannot slip between check and erase.
   */
  private refuseIfSealed(id: string): void {
    const row = this.outbox.anyOfIncident(id);
    // evidence the force refused for good never left: the incident may still be cancelled
    if (!row || row.state === 'rejected') return;
    throw new IncidentRefused(`incident ${id} is sealed (envelope ${row.envelopeId}, ${row.state === 'delivered' ? 'delivered' : 'waiting to be sent'}) and can no longer be cancelled`, 409, {
      code: 'not_cancellable',
      hint: 'the evidence is leaving or has left the box; ask the force to withdraw it',
    });
  }

  /** Send a failed incident back to the step that failed, now. */
  retry(id: string, by: AuditActor): Incident {
    const incident = this.get(id);
    if (incident.state !== 'failed' || !incident.failedState) {
      throw new IncidentRefused(`incident ${id} is ${incident.state}, not failed`, 409, { code: 'not_failed' });
    }
    // evidence the force refused is not sent again: it is sealed anew from the incident's analysis
    const to = incident.failureCode === FORCE_REJECTED ? 'analysing' : (incident.failedState as Exclude<IncidentState, 'failed'>);
    const updated = this.d.machine.transition(id, to, { actor: by, reason: 'retry requested by a person' });
    this.d.bus.emit('incident.changed', { incidentId: id, state: updated.state });
    return updated;
  }

  get(id: string): Incident {
    if (!isSafeId(id)) {
      throw new IncidentRefused(`${JSON.stringify(String(id).slice(0, 80))} is not an incident id`, 400, { code: 'bad_id', hint: '`hindsight incident list` shows the incident ids' });
    }
    const incident = this.d.repo.get(id);
    if (!incident) throw new IncidentRefused(`no incident ${id}`, 404, { code: 'not_found', hint: '`hindsight incident list` shows the incidents' });
    return incident;
  }

  view(id: string): IncidentView {
    const incident = this.get(id);
    return this.withDetails(incident, (QUEUED_STATES as readonly IncidentState[]).includes(incident.state) ? this.queue() : []);
  }

  list(options: { states?: IncidentState[]; limit?: number } = {}): IncidentView[] {
    const queue = this.queue(); // read once for the whole list
    return this.d.repo.list(options).map((i) => this.withDetails(i, queue));
  }

  /** Ids of the incidents waiting for extraction, in the order they will be served. */
  private queue(): string[] {
    return this.d.repo.inStates(QUEUED_STATES).map((q) => q.id);
  }

  private withDetails(incident: Incident, queue: readonly string[]): IncidentView {
    const idx = (QUEUED_STATES as readonly IncidentState[]).includes(incident.state) ? queue.indexOf(incident.id) : -1;
    return {
      ...incident,
      cameras: this.d.repo.cameras(incident.id),
      queuePosition: idx < 0 ? null : idx + 1,
      progress: this.d.repo.progress(incident.id) as IncidentProgress | null,
      delivery: this.outbox.deliveryOf(incident.id),
      maxAttempts: this.d.config.incidents.max_attempts,
    };
  }

  private checkLimits(by: IncidentActor, now: number): void {
    const policy = this.d.config.incidents;
    const since = now - HOUR_MS;
    const retryAt = new Date(now + 5 * 60_000).toISOString().slice(11, 16);
    if (this.d.repo.countLoggedBySince(by.id, since) >= policy.per_user_per_hour) {
      throw new IncidentRefused(`${by.id} has logged ${policy.per_user_per_hour} incidents in the last hour, the most allowed`, 429, {
        code: 'rate_limited_user',
        hint: `ask a manager if this is a real emergency; try again after ${retryAt} UTC`,
      });
    }
    if (this.d.repo.countLoggedSince(since) >= policy.per_device_per_hour) {
      throw new IncidentRefused(`this box has logged ${policy.per_device_per_hour} incidents in the last hour, the most allowed`, 429, {
        code: 'rate_limited_device',
        hint: `the force sets this limit; try again after ${retryAt} UTC`,
      });
    }
    if (this.d.repo.countInStates(OPEN_STATES) >= policy.max_open) {
      throw new IncidentRefused(`${policy.max_open} incidents are already being processed`, 503, {
        code: 'queue_full',
        hint: 'wait for them to be sent (`hindsight incident list`), or check the uplink and disk if they are stuck',
      });
    }
  }

  private checkActor(by: IncidentActor | undefined): IncidentActor {
    if (!by || !['user', 'button', 'cli'].includes(by.type) || !isSafeId(by.id)) {
      throw new IncidentRefused('who logged the incident is missing or not a valid id', 400, { code: 'bad_actor', hint: 'give a staff id or button id (letters, digits, "-", "_")' });
    }
    return by.role === undefined ? { type: by.type, id: by.id } : { type: by.type, id: by.id, role: String(by.role).slice(0, 32) };
  }

  private checkReason(reason: string): ReasonCode {
    if (!REASON_CODES.includes(reason as ReasonCode)) {
      throw new IncidentRefused(`unknown reason ${JSON.stringify(String(reason).slice(0, 40))}`, 400, { code: 'bad_reason', hint: `use one of: ${REASON_CODES.join(', ')}` });
    }
    return reason as ReasonCode;
  }

  private checkJustification(text: string | undefined): string {
    const t = (text ?? '').trim();
    if (t.length < MIN_JUSTIFICATION) {
      throw new IncidentRefused(`a justification of at least ${MIN_JUSTIFICATION} characters is required`, 400, {
        code: 'justification_missing',
        hint: 'say briefly what happened, e.g. "man took razor blades from aisle 4 without paying"',
      });
    }
    if (t.length > MAX_JUSTIFICATION) throw new IncidentRefused(`the justification is longer than ${MAX_JUSTIFICATION} characters`, 400, { code: 'justification_too_long' });
    if (CONTROL_CHARS.test(t)) throw new IncidentRefused('the justification contains control characters', 400, { code: 'justification_invalid' });
    return t;
  }

  private checkSeconds(value: unknown, fallback: number, name: string): number {
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      throw new IncidentRefused(`${name} must be a whole number of seconds >= 0`, 400, { code: 'bad_window' });
    }
    return value;
  }

  private selectCameras(req: Pick<LogIncidentRequest, 'cameras' | 'zone' | 'all'>): { selector: Incident['cameraSelector']; cameraIds: string[] } {
    const ways = [req.cameras !== undefined, req.zone !== undefined, req.all === true].filter(Boolean).length;
    if (ways > 1) throw new IncidentRefused('choose cameras one way: a list, a zone, or all', 400, { code: 'bad_cameras' });
    // Never every camera by default: staff in a hurry must not take the whole shop by accident.
    if (ways === 0) {
      throw new IncidentRefused('say which cameras saw it', 400, {
        code: 'cameras_missing',
        hint: 'name them (--camera till2), give their zone (--zone tills), or take every recording camera on purpose (--all); `hindsight camera list` shows cameras and zones',
      });
    }
    let selector: Incident['cameraSelector'];
    let ids: string[];
    if (req.cameras !== undefined) {
      if (!Array.isArray(req.cameras) || req.cameras.length === 0) throw new IncidentRefused('the camera list is empty', 400, { code: 'bad_cameras' });
      const known = new Set(this.d.cameras.allCameraIds());
      for (const c of req.cameras) {
        if (!isSafeId(c)) {
          throw new IncidentRefused(`${JSON.stringify(String(c).slice(0, 80))} is not a camera id`, 400, { code: 'bad_camera_id', hint: 'camera ids use letters, digits, "-" and "_"; `hindsight camera list` shows them' });
        }
        if (!known.has(c)) throw new IncidentRefused(`unknown camera ${c}`, 400, { code: 'unknown_camera', hint: '`hindsight camera list` shows the cameras' });
      }
      ids = [...new Set(req.cameras)];
      selector = { kind: 'cameras', ids };
    } else if (req.zone !== undefined) {
      if (typeof req.zone !== 'string' || req.zone.length === 0 || req.zone.length > 64) throw new IncidentRefused('the zone name is not valid', 400, { code: 'bad_zone' });
      ids = this.d.cameras.camerasInZone(req.zone);
      if (ids.length === 0) throw new IncidentRefused(`no camera is in zone ${JSON.stringify(req.zone)}`, 400, { code: 'unknown_zone', hint: '`hindsight camera list` shows each camera\'s zone' });
      selector = { kind: 'zone', zone: req.zone };
    } else {
      ids = this.d.cameras.enabledCameraIds();
      if (ids.length === 0) throw new IncidentRefused('there are no cameras recording', 400, { code: 'no_cameras', hint: 'add a camera first (`hindsight camera add`)' });
      selector = { kind: 'all' };
    }
    const max = this.d.config.incidents.max_cameras;
    if (ids.length > max) throw new IncidentRefused(`${ids.length} cameras is more than the ${max} one incident may cover`, 400, { code: 'too_many_cameras', hint: 'choose the cameras that saw it' });
    return { selector, cameraIds: ids };
  }
}

