import type { KeyPairFile } from '../crypto/keys.js';

/**
 * What incidents need from the uplink to hand evidence over, as a small interface (like buffer-port.ts
 * for the recorder): the incidents side builds the evidence package, the uplink seals its bytes to the
 * force and queues them. The uplink implements it; incidents never touch the outbox or the keys' files.
 */
export interface EvidencePort {
  /** The box's signing key (packages and envelopes are signed with it), or undefined while not enrolled. */
  signingKey(): KeyPairFile | undefined;
  /**
   * Seal these package bytes for incident `incidentId` to every currently valid force key. Throws with
   * the code `not_enrolled`, `keyset_expired` or `outbox_full` when it cannot.
   */
  seal(plaintext: Uint8Array, incidentId: string): Promise<SealedEvidence>;
  /** The transaction that queued `sealed` has committed: send it now (a wake-up). */
  queued(sealed: SealedEvidence): void;
  /** Whether evidence can be sealed now: enrolled, with a force key that has not expired. */
  canSeal(): boolean;
  /** Whether the outbox has room for more evidence. */
  hasRoom(): boolean;
  /** Whether the uplink has started sending an incident's envelope (or the force already has it). */
  isSending(incidentId: string): boolean;
}

/** Evidence sealed to the force, not yet queued. */
export interface SealedEvidence {
  incidentId: string;
  envelopeId: string;
  /** Hash of the sealed body (what the force's receipt names). */
  bodySha256: string;
  /**
   * Queue it for sending, with the plaintext working files to delete once the force confirms receipt.
   * Call inside the caller's transaction (the incident's `sealed` transition commits with it).
   */
  enqueue(workingFiles: string[]): void;
}
