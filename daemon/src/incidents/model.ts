/**
 * An incident: staff said something happened (now, or "20 minutes ago at till 2"). Its window of
 * footage is locked at once, cut into a native master clip per camera, analysed for faces, sealed to
 * the force and sent. The state lives in SQLite; every transition is one transaction with its audit row.
 *
 *   logged -> waiting -> extracting -> analysing -> sealed -> sending -> delivered -> closed
 *   any non-terminal state -> failed(reason) -> (retry) back to the state that failed
 *   logged | waiting | extracting | analysing -> cancelled (a manager, before it is sealed and queued)
 */
import type { IncidentState, ReasonCode, WaitEvent } from '../db/repos/incidents.js';

// The rows' shapes are declared by their repository; the states' rules and labels live here.
export { INCIDENT_STATES, REASON_CODES, WAIT_EVENTS } from '../db/repos/incidents.js';
export type { ClipState, FailureWait, Incident, IncidentActor, IncidentCamera, IncidentState, ReasonCode, WaitEvent } from '../db/repos/incidents.js';

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

export const REASON_LABELS: Record<ReasonCode, string> = {
  theft: 'theft',
  violence: 'violence',
  threat_abuse: 'threat or abuse',
  cbo_breach: 'criminal behaviour order breach',
  other: 'other',
};

export const WAIT_EVENT_LABELS: Record<WaitEvent, string> = {
  enrolled: 'the box to be enrolled with the force (with a force key set that has not expired)',
  outbox_space: 'room in the outbox (evidence already queued must reach the force first)',
};

