import type { Db } from '../db.js';
import { statement } from '../statements.js';

/** The incident records (the state machine's rules and labels are in incidents/model.ts). */
export const INCIDENT_STATES = ['logged', 'waiting', 'extracting', 'analysing', 'sealed', 'sending', 'delivered', 'closed', 'failed', 'cancelled'] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];

export const REASON_CODES = ['theft', 'violence', 'threat_abuse', 'cbo_breach', 'other'] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

/** Who logged it: a staff member signed in, a panic button, or an operator at the command line. */
export interface IncidentActor {
  type: 'user' | 'button' | 'cli';
  id: string;
  role?: string;
}

export interface Incident {
  id: string;
  state: IncidentState;
  /** When it failed, the state it failed in (a retry goes back there) and why, in plain words. */
  failedState: IncidentState | null;
  failure: string | null;
  /** A short code for the failure (e.g. `no_footage`, `not_enrolled`), for the UI and tests. */
  failureCode: string | null;
  /** While failed: what it waits for. Null in every other state. */
  wait: FailureWait | null;
  loggedAtMs: number;
  incidentAtMs: number;
  windowFromMs: number;
  windowToMs: number;
  reason: ReasonCode;
  justification: string;
  loggedBy: IncidentActor;
  /** How the cameras were chosen, as the person asked: explicit list, a zone, or all. */
  cameraSelector: { kind: 'cameras'; ids: string[] } | { kind: 'zone'; zone: string } | { kind: 'all' };
  /** Failed attempts of the current step (reset when the incident moves on). */
  attempts: number;
  updatedAtMs: number;
}

/** Events a failed incident can wait for; they resume it without using an attempt. */
export const WAIT_EVENTS = ['enrolled', 'outbox_space'] as const;
export type WaitEvent = (typeof WAIT_EVENTS)[number];

/**
 * What a failed incident waits for. Never "due now in a loop": either its next automatic attempt at a
 * stated time, an event that resumes it (no attempt used), or a person (`incident retry` / `cancel`).
 */
export type FailureWait = { kind: 'retry'; atMs: number } | { kind: 'event'; event: WaitEvent } | { kind: 'person' };

export type ClipState = 'pending' | 'done' | 'empty' | 'failed';

/** One camera of an incident and its master clip once cut. */
export interface IncidentCamera {
  incidentId: string;
  cameraId: string;
  clipState: ClipState;
  clipPath: string | null;
  clipSha256: string | null;
  clipBytes: number | null;
  clipStartMs: number | null;
  clipEndMs: number | null;
  coverage: number | null;
  /** Holes in the footage of its window (once cut; an empty clip is one hole, the whole window). */
  gaps: number | null;
  error: string | null;
}


interface IncidentRow {
  id: string;
  state: string;
  failed_state: string | null;
  failure: string | null;
  logged_at_ms: number;
  incident_at_ms: number;
  window_from_ms: number;
  window_to_ms: number;
  reason: string;
  justification: string;
  logged_by_type: string;
  logged_by_id: string;
  logged_by_role: string | null;
  camera_selector: string;
  attempts: number;
  next_attempt_ms: number | null;
  failure_code: string | null;
  wait_kind: 'retry' | 'event' | 'person' | null;
  wait_event: string | null;
  step_runs: number;
  updated_at_ms: number;
}

interface CameraRow {
  incident_id: string;
  camera_id: string;
  clip_state: string;
  clip_path: string | null;
  clip_sha256: string | null;
  clip_bytes: number | null;
  clip_start_ms: number | null;
  clip_end_ms: number | null;
  coverage: number | null;
  detail: string | null;
  error: string | null;
}

function waitOf(r: IncidentRow): FailureWait | null {
  if (r.state !== 'failed') return null;
  if (r.wait_kind === 'retry' && r.next_attempt_ms !== null) return { kind: 'retry', atMs: r.next_attempt_ms };
  if (r.wait_kind === 'event' && r.wait_event) return { kind: 'event', event: r.wait_event as WaitEvent };
  return { kind: 'person' }; // a failure that does not say otherwise waits for a person, never "due now"
}

function toIncident(r: IncidentRow): Incident {
  const loggedBy: IncidentActor = { type: r.logged_by_type as IncidentActor['type'], id: r.logged_by_id };
  if (r.logged_by_role !== null) loggedBy.role = r.logged_by_role;
  return {
    id: r.id,
    state: r.state as IncidentState,
    failedState: r.failed_state as IncidentState | null,
    failure: r.failure,
    failureCode: r.failure_code,
    wait: waitOf(r),
    loggedAtMs: r.logged_at_ms,
    incidentAtMs: r.incident_at_ms,
    windowFromMs: r.window_from_ms,
    windowToMs: r.window_to_ms,
    reason: r.reason as ReasonCode,
    justification: r.justification,
    loggedBy,
    cameraSelector: JSON.parse(r.camera_selector) as Incident['cameraSelector'],
    attempts: r.attempts,
    updatedAtMs: r.updated_at_ms,
  };
}

function toCamera(r: CameraRow): IncidentCamera {
  return {
    incidentId: r.incident_id,
    cameraId: r.camera_id,
    clipState: r.clip_state as ClipState,
    clipPath: r.clip_path,
    clipSha256: r.clip_sha256,
    clipBytes: r.clip_bytes,
    clipStartMs: r.clip_start_ms,
    clipEndMs: r.clip_end_ms,
    coverage: r.coverage,
    gaps: r.detail ? ((JSON.parse(r.detail) as { gaps?: unknown[] }).gaps?.length ?? null) : r.clip_state === 'empty' ? 1 : null,
    error: r.error,
  };
}

export interface ClipUpdate {
  clipState: ClipState;
  clipPath?: string | null;
  clipSha256?: string | null;
  clipBytes?: number | null;
  clipStartMs?: number | null;
  clipEndMs?: number | null;
  coverage?: number | null;
  detail?: unknown;
  error?: string | null;
}

/** SQL for incidents and incident_cameras. Transitions and their audit rows are in incidents/state.ts. */
export class IncidentsRepo {
  constructor(private readonly db: Db) {}

  insert(incident: Incident, cameraIds: readonly string[]): void {
    this.db
      .prepare(
        `INSERT INTO incidents (id, state, logged_at_ms, incident_at_ms, window_from_ms, window_to_ms, reason, justification,
           logged_by_type, logged_by_id, logged_by_role, camera_selector, attempts, updated_at_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)`,
      )
      .run(
        incident.id,
        incident.state,
        incident.loggedAtMs,
        incident.incidentAtMs,
        incident.windowFromMs,
        incident.windowToMs,
        incident.reason,
        incident.justification,
        incident.loggedBy.type,
        incident.loggedBy.id,
        incident.loggedBy.role ?? null,
        JSON.stringify(incident.cameraSelector),
        incident.updatedAtMs,
      );
    const cam = this.db.prepare('INSERT INTO incident_cameras (incident_id, camera_id) VALUES (?, ?)');
    for (const id of cameraIds) cam.run(incident.id, id);
  }

  get(id: string): Incident | undefined {
    const r = this.db.prepare('SELECT * FROM incidents WHERE id = ?').get(id) as IncidentRow | undefined;
    return r ? toIncident(r) : undefined;
  }

  list(options: { states?: readonly IncidentState[]; limit?: number } = {}): Incident[] {
    const limit = options.limit ?? 100;
    if (options.states?.length) {
      const marks = options.states.map(() => '?').join(',');
      return (this.db.prepare(`SELECT * FROM incidents WHERE state IN (${marks}) ORDER BY logged_at_ms DESC, id DESC LIMIT ?`).all(...options.states, limit) as IncidentRow[]).map(toIncident);
    }
    return (this.db.prepare('SELECT * FROM incidents ORDER BY logged_at_ms DESC, id DESC LIMIT ?').all(limit) as IncidentRow[]).map(toIncident);
  }

  /**
   * Incidents in `states`, oldest first. Not for `failed`: a failed incident is never simply due, it waits
   * for a time (`dueRetries`), an event (`waitingFor`) or a person.
   */
  inStates(states: readonly Exclude<IncidentState, 'failed'>[]): Incident[] {
    const marks = states.map(() => '?').join(',');
    return (statement(this.db, `SELECT * FROM incidents WHERE state IN (${marks}) ORDER BY logged_at_ms, id`).all(...states) as IncidentRow[]).map(toIncident);
  }

  /** Failed incidents whose next automatic attempt has come. */
  dueRetries(nowMs: number): Incident[] {
    return (
      statement(this.db, `SELECT * FROM incidents WHERE state = 'failed' AND wait_kind = 'retry' AND next_attempt_ms <= ? ORDER BY next_attempt_ms, id`).all(nowMs) as IncidentRow[]
    ).map(toIncident);
  }

  /** Failed incidents waiting for `event`. */
  waitingFor(event: WaitEvent): Incident[] {
    return (statement(this.db, `SELECT * FROM incidents WHERE state = 'failed' AND wait_kind = 'event' AND wait_event = ? ORDER BY logged_at_ms, id`).all(event) as IncidentRow[]).map(toIncident);
  }

  /**
   * Count a start of the incident's current step; returns how many starts have not finished. Reset by
   * every state change. A step that kills the daemon every time shows here as a growing count.
   */
  countStepRun(id: string): number {
    const r = this.db.prepare('UPDATE incidents SET step_runs = step_runs + 1 WHERE id = ? RETURNING step_runs').get(id) as { step_runs: number } | undefined;
    return r?.step_runs ?? 0;
  }

  /** A step stopped cleanly (the daemon is stopping): that start does not count as a crash. */
  uncountStepRun(id: string): void {
    this.db.prepare('UPDATE incidents SET step_runs = max(0, step_runs - 1) WHERE id = ?').run(id);
  }

  cameras(incidentId: string): IncidentCamera[] {
    return (this.db.prepare('SELECT * FROM incident_cameras WHERE incident_id = ? ORDER BY camera_id').all(incidentId) as CameraRow[]).map(toCamera);
  }

  countLoggedBySince(loggerId: string, sinceMs: number): number {
    return (this.db.prepare('SELECT count(*) AS n FROM incidents WHERE logged_by_id = ? AND logged_at_ms >= ?').get(loggerId, sinceMs) as { n: number }).n;
  }

  countLoggedSince(sinceMs: number): number {
    return (this.db.prepare('SELECT count(*) AS n FROM incidents WHERE logged_at_ms >= ?').get(sinceMs) as { n: number }).n;
  }

  /** Incidents in each state (states with none left out) and the attempts they have used, summed. */
  countsByState(): { state: IncidentState; count: number; attempts: number }[] {
    return statement(this.db, 'SELECT state, count(*) AS count, COALESCE(SUM(attempts), 0) AS attempts FROM incidents GROUP BY state ORDER BY state').all() as { state: IncidentState; count: number; attempts: number }[];
  }

  countInStates(states: readonly IncidentState[]): number {
    const marks = states.map(() => '?').join(',');
    return (this.db.prepare(`SELECT count(*) AS n FROM incidents WHERE state IN (${marks})`).get(...states) as { n: number }).n;
  }

  setState(
    id: string,
    fields: { state: IncidentState; failedState: IncidentState | null; failure: string | null; failureCode: string | null; wait: FailureWait | null; attempts: number; nowMs: number; closed: boolean },
  ): void {
    const w = fields.wait;
    this.db
      .prepare(
        `UPDATE incidents SET state = ?, failed_state = ?, failure = ?, failure_code = ?, wait_kind = ?, wait_event = ?, next_attempt_ms = ?, attempts = ?,
           step_runs = 0, updated_at_ms = ?, closed_at_ms = CASE WHEN ? THEN ? ELSE closed_at_ms END WHERE id = ?`,
      )
      .run(
        fields.state,
        fields.failedState,
        fields.failure,
        fields.failureCode,
        w?.kind ?? null,
        w?.kind === 'event' ? w.event : null,
        w?.kind === 'retry' ? w.atMs : null,
        fields.attempts,
        fields.nowMs,
        fields.closed ? 1 : 0,
        fields.nowMs,
        id,
      );
  }

  updateClip(incidentId: string, cameraId: string, u: ClipUpdate): void {
    this.db
      .prepare(
        `UPDATE incident_cameras SET clip_state = ?, clip_path = ?, clip_sha256 = ?, clip_bytes = ?, clip_start_ms = ?, clip_end_ms = ?,
           coverage = ?, detail = ?, error = ? WHERE incident_id = ? AND camera_id = ?`,
      )
      .run(
        u.clipState,
        u.clipPath ?? null,
        u.clipSha256 ?? null,
        u.clipBytes ?? null,
        u.clipStartMs ?? null,
        u.clipEndMs ?? null,
        u.coverage ?? null,
        u.detail === undefined ? null : JSON.stringify(u.detail),
        u.error ?? null,
        incidentId,
        cameraId,
      );
  }

  clipDetail(incidentId: string, cameraId: string): unknown {
    const r = this.db.prepare('SELECT detail FROM incident_cameras WHERE incident_id = ? AND camera_id = ?').get(incidentId, cameraId) as { detail: string | null } | undefined;
    return r?.detail ? (JSON.parse(r.detail) as unknown) : null;
  }

  setManifest(id: string, manifest: unknown): void {
    this.db.prepare('UPDATE incidents SET manifest = ? WHERE id = ?').run(JSON.stringify(manifest), id);
  }

  manifest(id: string): unknown {
    const r = this.db.prepare('SELECT manifest FROM incidents WHERE id = ?').get(id) as { manifest: string | null } | undefined;
    return r?.manifest ? (JSON.parse(r.manifest) as unknown) : null;
  }

  setProgress(id: string, progress: unknown): void {
    this.db.prepare('UPDATE incidents SET progress = ? WHERE id = ?').run(JSON.stringify(progress), id);
  }

  progress(id: string): unknown {
    const r = this.db.prepare('SELECT progress FROM incidents WHERE id = ?').get(id) as { progress: string | null } | undefined;
    return r?.progress ? (JSON.parse(r.progress) as unknown) : null;
  }
}
