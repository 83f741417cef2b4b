import type { KeyPairFile } from '../crypto/keys.js';
import { validRecipients } from '../crypto/keyset.js';
import type { AppContext } from '../kernel/context.js';
import { HindsightError } from '../util/errors.js';
import { KeySetStore } from './enrollment.js';
import type { Outbox } from './outbox.js';
import type { EvidenceSealer } from './sealer.js';
import { createSealer } from './sealer.js';

/** Evidence sealed to the force, not yet queued: `enqueue` puts it in the outbox in the caller's transaction. */
export interface OutletSealed {
  incidentId: string;
  envelopeId: string;
  bodySha256: string;
  enqueue(workingFiles: string[]): void;
}

/**
 * The uplink's side of handing evidence over: seal the bytes of a package to the force and queue them,
 * and say whether that is possible now. The incident pipeline builds the package and uses this through
 * its own small interface (the shapes match); the uplink never sees a package's contents.
 */
export class EvidenceOutlet {
  private sealerInstance: EvidenceSealer | undefined;

  constructor(
    private readonly ctx: Pick<AppContext, 'config' | 'paths' | 'db' | 'clock' | 'clockSync' | 'bus'>,
    private readonly outbox: Outbox,
  ) {}

  /**
   * Undefined while the box is not enrolled. Created on first use, so an enrollment made while running
   * counts.
   */
  private get sealer(): EvidenceSealer | undefined {
    this.sealerInstance ??= createSealer(this.ctx, this.outbox);
    return this.sealerInstance;
  }

  signingKey(): KeyPairFile | undefined {
    return this.sealer?.deviceKey;
  }

  async seal(plaintext: Uint8Array, incidentId: string): Promise<OutletSealed> {
    const sealer = this.sealer;
    if (!sealer) {
      throw new HindsightError('cannot seal the evidence: this box is not enrolled with the force', {
        code: 'not_enrolled',
        hint: 'enroll it (`hindsight enroll BUNDLE`); the incident resumes by itself once enrolled, its faces are kept',
      });
    }
    const envelope = await sealer.seal(plaintext, incidentId);
    return {
      incidentId,
      envelopeId: envelope.manifest.header.envelope_id,
      bodySha256: envelope.manifest.body_sha256,
      enqueue: (workingFiles) => this.outbox.enqueue(envelope, { workingFiles }),
    };
  }

  /** The queueing transaction committed: wake the sender. */
  queued(sealed: OutletSealed): void {
    this.ctx.bus.emit('envelope.queued', { envelopeId: sealed.envelopeId, incidentId: sealed.incidentId });
  }

  /** Whether evidence can be sealed now: enrolled, with a force key set that has an unexpired recipient. */
  canSeal(): boolean {
    const keyset = this.sealer ? new KeySetStore(this.ctx.db).current() : undefined;
    return keyset !== undefined && validRecipients(keyset.keyset, this.ctx.clock.now()).length > 0;
  }

  hasRoom(): boolean {
    return this.outbox.hasCapacity();
  }

  /** Sending has started once an attempt was made (or the force already confirmed it). */
  isSending(incidentId: string): boolean {
    return this.outbox.byIncident(incidentId).some((e) => e.kind === 'evidence' && ((e.state === 'pending' && e.attempts > 0) || e.state === 'delivered'));
  }
}
