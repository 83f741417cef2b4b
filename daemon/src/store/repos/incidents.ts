import type { Db } from '../db.js';
import type { ClipState, Incident, IncidentActor, IncidentCamera, IncidentState, ReasonCode } from '../../incidents/model.js';

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
  error: string | null;
}

function toIncident(r: IncidentRow): Incident {
  const loggedBy: IncidentActor = { type: r.logged_by_type as IncidentActor['type'], id: r.logged_by_id };
  if (r.logged_by_role !== null) loggedBy.role = r.logged_by_role;
  return {
    id: r.id,
    state: r.state as IncidentState,
    failedState: r.failed_state as IncidentState | null,
    failure: r.failure,
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

  /** Incidents in `states` whose retry time (if any) has come, oldest first. */
  due(states: readonly IncidentState[], nowMs: number): Incident[] {
    const marks = states.map(() => '?').join(',');
    return (
      this.db
        .prepare(`SELECT * FROM incidents WHERE state IN (${marks}) AND (next_attempt_ms IS NULL OR next_attempt_ms <= ?) ORDER BY logged_at_ms, id`)
        .all(...states, nowMs) as IncidentRow[]
    ).map(toIncident);
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

  countInStates(states: readonly IncidentState[]): number {
    const marks = states.map(() => '?').join(',');
    return (this.db.prepare(`SELECT count(*) AS n FROM incidents WHERE state IN (${marks})`).get(...states) as { n: number }).n;
  }

  setState(id: string, fields: { state: IncidentState; failedState: IncidentState | null; failure: string | null; attempts: number; nextAttemptMs: number | null; nowMs: number; closed: boolean }): void {
    this.db
      .prepare(
        `UPDATE incidents SET state = ?, failed_state = ?, failure = ?, attempts = ?, next_attempt_ms = ?, updated_at_ms = ?,
           closed_at_ms = CASE WHEN ? THEN ? ELSE closed_at_ms END WHERE id = ?`,
      )
      .run(fields.state, fields.failedState, fields.failure, fields.attempts, fields.nextAttemptMs, fields.nowMs, fields.closed ? 1 : 0, fields.nowMs, id);
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
