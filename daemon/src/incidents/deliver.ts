import type { Logger } from 'pino';
import type { AuditActor } from '../audit/log.js';
import type { IncidentsRepo } from '../db/repos/incidents.js';
import type { IncidentStateMachine } from './state.js';

const SYSTEM: AuditActor = { type: 'system', id: 'incident-worker' };

/** Called inside the uplink's delivery transaction when the force confirms an incident's evidence. */
export type RecordDelivery = (incidentId: string, envelopeId: string) => void;

/**
 * The `delivered` transition: the force's signed `complete` receipt for the incident's envelope. Runs in
 * the transaction that marks the envelope delivered, so both commit or neither. Never throws: a receipt
 * must not be rolled back because of the incident's bookkeeping.
 */
export function deliveryRecorder(d: { repo: IncidentsRepo; machine: IncidentStateMachine; log: Logger }): RecordDelivery {
  return (incidentId, envelopeId) => {
    try {
      const i = d.repo.get(incidentId);
      if (!i || !['sealed', 'sending'].includes(i.state)) return;
      if (i.state === 'sealed') d.machine.transition(incidentId, 'sending', { actor: SYSTEM, detail: { envelope: envelopeId } });
      d.machine.transition(incidentId, 'delivered', { actor: SYSTEM, detail: { envelope: envelopeId } });
    } catch (err) {
      d.log.error({ service: 'incidents', incident: incidentId, err }, 'cannot record the delivery on the incident');
    }
  };
}
