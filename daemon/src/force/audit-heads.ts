import type { Logger } from 'pino';
import type { AuditLog } from '../audit/log.js';
import { linkHash } from '../audit/log.js';
import { SIG_CONTEXT, signWith, verifyWith, type KeyPairFile } from '../crypto/keys.js';
import type { Db } from '../db/db.js';
import { AuditHeadPayload, parsePayload, type AuditAckMessage, type SignedAuditHead } from '../protocol/schemas.js';
import { canonicalBytes } from '../util/canonical.js';
import type { Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import { AuditHeadsRepo } from './db/audit-heads.js';
import { DeviceRegistry } from './registry.js';
import { fromEnrolledBox } from './fleet.js';

/**
 * The force's check of every box's audit log, without reading it: each signed head must extend the head
 * the force last acknowledged. The box sends the content digests of the rows since then; chained from
 * the acknowledged hash they must give the new head's hash. A box whose log was rewritten (even
 * re-hashed and re-signed with its own key, as root on the box could), truncated or forked fails this and
 * raises an alarm that stays (the fleet view shows it) until someone looks; a head that checks out is
 * acknowledged on the box's receipt topic, and the box may then prune what it covers.
 */
export class AuditHeadCheck {
  private readonly heads: AuditHeadsRepo;
  private readonly registry: DeviceRegistry;

  constructor(
    private readonly d: { db: Db; audit: AuditLog; clock: Clock; log: Logger; receiptKey: KeyPairFile; sendAck: (deviceId: string, payload: string) => Promise<void> },
  ) {
    this.heads = new AuditHeadsRepo(d.db);
    this.registry = new DeviceRegistry(d.db);
  }

  /** True when the topic was an audit head (checked or dropped), false for anything else. */
  async handleTopic(prefix: string, topic: string, payload: Buffer): Promise<boolean> {
    const t = fromEnrolledBox({ prefix, log: this.d.log }, this.registry, topic, payload, ['auditHead']);
    if (typeof t === 'string') return t === 'dropped';
    await this.handle(t.device, payload);
    return true;
  }

  /** One head from an enrolled box that is not revoked. */
  async handle(deviceId: string, payload: Buffer): Promise<void> {
    let signed: SignedAuditHead;
    try {
      signed = parsePayload(AuditHeadPayload, payload, 256 * 1024);
    } catch (err) {
      this.d.log.warn({ device: deviceId, err: errorMessage(err) }, 'malformed audit head dropped');
      return;
    }
    const device = this.registry.get(deviceId);
    if (!device?.signingPk || device.signingKid !== signed.kid || !verifyWith(device.signingPk, SIG_CONTEXT.auditHead, signed.sig, canonicalBytes(signed.head))) {
      this.d.log.warn({ device: deviceId, kid: signed.kid }, "audit head not signed by the box's registered key: dropped");
      return;
    }
    const verdict = this.check(deviceId, signed.head);
    const now = this.d.clock.now();
    if (verdict.kind === 'alarm') {
      const first = this.heads.get(deviceId)?.status !== 'alarm';
      this.d.db.transaction(() => {
        this.heads.alarm(deviceId, verdict.why, now);
        if (first) this.d.audit.append({ actor: { type: 'device', id: deviceId }, action: 'fleet.audit_alarm', objectIds: [deviceId], result: 'denied', detail: { why: verdict.why, count: signed.head.count } });
      })();
      if (first) this.d.log.error({ device: deviceId, why: verdict.why }, `AUDIT LOG OF BOX ${deviceId} FAILS ITS CHECK: ${verdict.why}`);
      return;
    }
    if (verdict.kind === 'record') this.heads.acknowledge(deviceId, { count: signed.head.count, headHash: signed.head.head_hash, boxTs: signed.head.ts }, verdict.status, now);
    const acked = this.heads.get(deviceId)!;
    await this.d.sendAck(deviceId, JSON.stringify(this.ack(deviceId, acked.count, acked.headHash))).catch((err) => this.d.log.warn({ device: deviceId, err: errorMessage(err) }, 'cannot acknowledge an audit head now; the box sends it again'));
  }

  private check(deviceId: string, head: SignedAuditHead['head']): { kind: 'record'; status: 'baseline' | 'extended' } | { kind: 'ack' } | { kind: 'alarm'; why: string } {
    const known = this.heads.get(deviceId);
    if (!known) return { kind: 'record', status: 'baseline' };
    // an alarm stays: the box is not trusted again by sending a better-looking head
    if (known.status === 'alarm') return { kind: 'alarm', why: known.alarm ?? 'the audit log failed an earlier check' };
    if (head.count < known.count) return { kind: 'alarm', why: `truncated: the box's log has ${head.count} rows, ${known.count} were acknowledged` };
    if (head.count === known.count) return head.head_hash === known.headHash ? { kind: 'ack' } : { kind: 'alarm', why: `rewritten: row ${known.count} is not the one acknowledged` };
    if (!head.from || !head.digests) return { kind: 'alarm', why: `the head at ${head.count} rows comes without the digests since the acknowledged head (${known.count} rows)` };
    // the box has not seen the latest acknowledgement: it is sent again, and the box sends from it
    if (head.from.count < known.count) return { kind: 'ack' };
    if (head.from.count > known.count || head.from.head_hash !== known.headHash) return { kind: 'alarm', why: `forked: the box extends a head (${head.from.count} rows) the force never acknowledged` };
    if (head.from.count + head.digests.length !== head.count) return { kind: 'alarm', why: `${head.digests.length} digests do not lead from ${head.from.count} to ${head.count} rows` };
    let hash = known.headHash;
    for (const digest of head.digests) hash = linkHash(hash, digest);
    if (hash !== head.head_hash) return { kind: 'alarm', why: `rewritten: the head at ${head.count} rows does not extend the acknowledged head at ${known.count} rows` };
    return { kind: 'record', status: 'extended' };
  }

  private ack(deviceId: string, count: number, headHash: string): AuditAckMessage {
    const ack: AuditAckMessage['ack'] = { v: 1, kind: 'audit_head', device_id: deviceId, count, head_hash: headHash, ts: this.d.clock.now(), kid: this.d.receiptKey.kid };
    return { ack, sig: signWith(this.d.receiptKey, SIG_CONTEXT.auditAck, canonicalBytes(ack)) };
  }
}
