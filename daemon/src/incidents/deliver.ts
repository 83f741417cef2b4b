import type { Logger } from 'pino';
import type { AuditActor } from '../audit/log.js';
import type { IncidentsRepo } from '../db/repos/incidents.js';
import type { IncidentStateMachine } from './state.js';

const SYSTEM: AuditActor = { type: 'system', id: 'incident-worker' };

/** Called inside the uplink's delivery transaction when the force confirms an incident's evidence. */
export type RecordDelivery = (incidentId: string, envelopeId: string) => void;

/** Called inside the uplink's transaction when the force refuses an incident's evidence for good (its signed `rejected` receipt). */
export type RecordRejection = (incidentId: string, envelopeId: string, reason: string) => void;

/** The failure code of an incident whose evidence the force refused: a retry seals it again from its analysis. */
export const FORCE_REJECTED = 'force_rejected';

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

/**
 * The force refused the incident's evidence for good: the incident fails with the force's reason and waits
 * for a person (sending it again cannot help). A retry goes back to `analysing`, which seals a new envelope
 * (after, say, a new force key set is installed). Runs in the transaction that marks the envelope rejected.
 */
export function rejectionRecorder(d: { repo: IncidentsRepo; machine: IncidentStateMachine; log: Logger }): RecordRejection {
  return (incidentId, envelopeId, reason) => {
    try {
      const i = d.repo.get(incidentId);
      if (!i || !['sealed', 'sending'].includes(i.state)) return;
      d.machine.fail(
        incidentId,
        {
          reason: `the force refused the evidence: ${reason}`,
          code: FORCE_REJECTED,
          hint: 'nothing more is sent; a retry seals it again (ask the force what to fix first)',
          needs: 'person',
        },
        { actor: SYSTEM, detail: { envelope: envelopeId } },
      );
    } catch (err) {
      d.log.error({ service: 'incidents', incident: incidentId, err }, 'cannot record the force\'s rejection on the incident');
    }
  };
}
