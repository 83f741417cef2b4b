/**
 * An incident: staff said something happened (now, or "20 minutes ago at till 2"). Its window of
 * footage is locked at once, cut into a native master clip per camera, analysed for faces, sealed to
 * the force and sent. The state lives in SQLite; every transition is one transaction with its audit row.
 *
 *   logged -> waiting -> extracting -> analysing -> sealed -> sending -> delivered -> closed
 *   any non-terminal state -> failed(reason) -> (retry) back to the state that failed
 *   logged | waiting | extracting | analysing -> cancelled (a manager, before it is sealed and queued)
 */
export const INCIDENT_STATES = ['logged', 'waiting', 'extracting', 'analysing', 'sealed', 'sending', 'delivered', 'closed', 'failed', 'cancelled'] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];

export const TERMINAL_STATES: readonly IncidentState[] = ['closed', 'cancelled'];
/** States from which a manager may still cancel: nothing is sealed for the force yet. */
export const CANCELLABLE_STATES: readonly IncidentState[] = ['logged', 'waiting', 'extracting', 'analysing', 'failed'];

const NEXT: Record<IncidentState, readonly IncidentState[]> = {
  logged: ['waiting', 'extracting', 'failed', 'cancelled'],
  waiting: ['extracting', 'failed', 'cancelled'],
  extracting: ['analysing', 'failed', 'cancelled'],
  analysing: ['sealed', 'failed', 'cancelled'],
  sealed: ['sending', 'failed'],
  sending: ['delivered', 'failed'],
  delivered: ['closed'],
  closed: [],
  failed: ['logged', 'waiting', 'extracting', 'analysing', 'sealed', 'sending', 'cancelled'],
  cancelled: [],
};

export function canTransition(from: IncidentState, to: IncidentState): boolean {
  return NEXT[from].includes(to);
}

export const REASON_CODES = ['theft', 'violence', 'threat_abuse', 'cbo_breach', 'other'] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

export const REASON_LABELS: Record<ReasonCode, string> = {
  theft: 'theft',
  violence: 'violence',
  threat_abuse: 'threat or abuse',
  cbo_breach: 'criminal behaviour order breach',
  other: 'other',
};

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

export const WAIT_EVENT_LABELS: Record<WaitEvent, string> = {
  enrolled: 'the box to be enrolled with the force (with a force key set that has not expired)',
  outbox_space: 'room in the outbox (evidence already queued must reach the force first)',
};

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
  error: string | null;
}
