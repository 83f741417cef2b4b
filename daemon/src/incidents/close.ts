import { rm } from 'node:fs/promises';
import type { AuditActor, AuditLog } from '../audit/log.js';
import type { EvidenceLocker } from './buffer-port.js';
import type { Incident } from './model.js';
import { incidentDir } from './paths.js';
import type { IncidentStateMachine } from './state.js';

const SYSTEM: AuditActor = { type: 'system', id: 'incident-worker' };

export interface CloseDeps {
  evidenceDir: string;
  machine: IncidentStateMachine;
  locks: EvidenceLocker;
  audit: AuditLog;
  /** How long masters are kept after delivery (said in the audit row). */
  retentionDays: number;
}

/**
 * The end of a delivered incident whose masters have been kept as long as policy says: delete them, and
 * in one transaction close the incident, release its footage locks and audit the erasure.
 */
export class CloseStep {
  constructor(private readonly d: CloseDeps) {}

  async run(i: Incident): Promise<void> {
    await rm(incidentDir(this.d.evidenceDir, i.id), { recursive: true, force: true });
    this.d.machine.transition(i.id, 'closed', {
      actor: SYSTEM,
      reason: 'master retention ended',
      alsoInTransaction: () => {
        this.d.locks.releaseAll(i.id);
        this.d.audit.append({ actor: SYSTEM, action: 'evidence.erased', objectIds: [i.id], detail: { what: 'master clips and manifest', after_days: this.d.retentionDays } });
      },
    });
  }
}
