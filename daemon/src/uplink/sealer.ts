import { sealEnvelope, type SealedEnvelope } from '../crypto/envelope.js';
import { readKeyFile, type KeyPairFile } from '../crypto/keys.js';
import { validRecipients } from '../crypto/keyset.js';
import type { Clock } from '../util/clock.js';
import type { ClockState } from '../util/clock-sync.js';
import { HindsightError } from '../util/errors.js';
import type { AppContext } from '../kernel/context.js';
import { isEnrolled, KeySetStore, uplinkFiles } from './enrollment.js';
import type { Outbox } from './outbox.js';

/**
 * Seals evidence for the force: the bytes of a package (built by whoever owns the evidence) -> an
 * envelope to every currently valid recipient key. The result goes into the outbox with
 * `outbox.enqueue(sealed, {workingFiles})` inside the caller's transaction.
 */
export class EvidenceSealer {
  constructor(
    private readonly deviceId: string,
    /** The box's signing key: it signs the envelope, and the package inside is signed with it too. */
    readonly deviceKey: KeyPairFile,
    private readonly keysets: KeySetStore,
    private readonly outbox: Outbox,
    private readonly clock: Clock,
    private readonly clockState: () => ClockState,
    private readonly chunkBytes: number,
  ) {}

  async seal(plaintext: Uint8Array, incidentId: string): Promise<SealedEnvelope> {
    const keyset = this.keysets.current();
    if (!keyset) throw new HindsightError('no force key set is installed', { code: 'not_enrolled', hint: 'enroll the box: hindsight enroll BUNDLE' });
    const now = this.clock.now();
    const recipients = validRecipients(keyset.keyset, now);
    if (!recipients.length) {
      throw new HindsightError(`every force key of key set ${keyset.keyset.seq} has expired`, { code: 'keyset_expired', hint: 'the force must publish a new key set' });
    }
    this.outbox.checkCapacity(plaintext.length);
    const cs = this.clockState();
    return sealEnvelope({
      plaintext,
      device: this.deviceKey,
      deviceId: this.deviceId,
      incidentId,
      msgSeq: this.outbox.reserveMsgSeq(),
      recipients,
      clock: { synced: cs.synced, offset_ms: cs.offset_ms },
      now,
      chunkBytes: this.chunkBytes,
    });
  }
}

/** The box's sealer, or undefined while the box is not enrolled (its device key comes with enrollment). */
export function createSealer(ctx: Pick<AppContext, 'config' | 'paths' | 'db' | 'clock' | 'clockSync'>, outbox: Outbox): EvidenceSealer | undefined {
  if (!isEnrolled(ctx.paths.stateDir)) return undefined;
  const key = readKeyFile(uplinkFiles(ctx.paths.stateDir).deviceKey, 'ed25519');
  return new EvidenceSealer(ctx.config.device.id, key, new KeySetStore(ctx.db), outbox, ctx.clock, () => ctx.clockSync.current(), ctx.config.uplink.chunk_bytes);
}
