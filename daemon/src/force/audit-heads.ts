import type { Logger } from 'pino';
import type { AuditLog } from '../audit/log.js';
import { linkHash } from '../audit/log.js';
import { SIG_CONTEXT, signWith, verifyWith, type KeyPairFile } from '../crypto/keys.js';
import type { Db } from '../db/db.js';
import { AuditHeadPayload, parsePayload, type AuditAckMessage, type SignedAuditHead } from '../protocol/schemas.js';
import { canonicalBytes } from '../util/canonical.js';
import type { Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import { AuditHeadsRepo, type AuditHeadState } from './db/audit-heads.js';
import { DeviceRegistry } from './registry.js';
import { fromEnrolledBox } from './fleet.js';

type Verdict =
  | { kind: 'record'; status: 'baseline' | 'extended'; restored?: { n: number; id: string; baseCount: number; lostRows: number; from: number }; forceRestored?: { from: number; known: number } }
  | { kind: 'ack' }
  | { kind: 'alarm'; why: string };

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
    if (verdict.kind === 'record') {
      const epoch = signed.head.epoch && { n: signed.head.epoch.n, id: signed.head.epoch.id };
      this.d.db.transaction(() => {
        this.heads.acknowledge(deviceId, { count: signed.head.count, headHash: signed.head.head_hash, boxTs: signed.head.ts, epoch }, verdict.status, now);
        if (verdict.restored) {
          const r = verdict.restored;
          this.d.audit.append({ actor: { type: 'device', id: deviceId }, action: 'fleet.box_restored', objectIds: [deviceId], detail: { epoch: r.n, epoch_id: r.id, backup_rows: r.baseCount, acknowledged_rows_lost: r.lostRows, checked_from: r.from } });
        }
      })();
      if (verdict.restored) {
        const r = verdict.restored;
        this.d.log.warn({ device: deviceId, epoch: r.n, acknowledged_rows_lost: r.lostRows }, `box ${deviceId} was restored from a backup (epoch ${r.n}); its audit log extends a head this force acknowledged${r.lostRows ? `; ${r.lostRows} acknowledged rows after the backup are gone from the box` : ''}`);
      }
      if (verdict.forceRestored) this.d.log.warn({ device: deviceId, ...verdict.forceRestored }, `box ${deviceId} extends a head this force acknowledged before its database was restored`);
    }
    const acked = this.heads.get(deviceId)!;
    await this.d.sendAck(deviceId, JSON.stringify(this.ack(deviceId, acked.count, acked.headHash))).catch((err) => this.d.log.warn({ device: deviceId, err: errorMessage(err) }, 'cannot acknowledge an audit head now; the box sends it again'));
  }

  private check(deviceId: string, head: SignedAuditHead['head']): Verdict {
    const known = this.heads.get(deviceId);
    if (!known) return { kind: 'record', status: 'baseline' };
    // an alarm stays: the box is not trusted again by sending a better-looking head
    if (known.status === 'alarm') return { kind: 'alarm', why: known.alarm ?? 'the audit log failed an earlier check' };
    const restoredBox = head.epoch !== undefined && head.epoch.id !== known.epochId;
    // the box extends a head this force acknowledged and no longer knows: the force's database came back from a backup
    const forceBehind = head.from !== undefined && head.from.count > known.count;
    if (restoredBox || forceBehind) return this.checkAcrossRestore(deviceId, head, known, restoredBox);
    if (head.count < known.count) return { kind: 'alarm', why: `truncated: the box's log has ${head.count} rows, ${known.count} were acknowledged` };
    if (head.count === known.count) return head.head_hash === known.headHash ? { kind: 'ack' } : { kind: 'alarm', why: `rewritten: row ${known.count} is not the one acknowledged` };
    if (!head.from || !head.digests) return { kind: 'alarm', why: `the head at ${head.count} rows comes without the digests since the acknowledged head (${known.count} rows)` };
    // the box has not seen the latest acknowledgement: it is sent again, and the box sends from it
    if (head.from.count < known.count) return { kind: 'ack' };
    if (head.from.head_hash !== known.headHash) return { kind: 'alarm', why: `forked: the box extends a head (${head.from.count} rows) the force never acknowledged` };
    return this.chains(head, known.headHash) ?? { kind: 'record', status: 'extended' };
  }

  /**
   * A box restored from a backup (a new epoch), or a force whose own database is older than what it
   * acknowledged: the head must extend one this force acknowledged, proven by the force's own signed
   * acknowledgement the box kept (`from_ack`), and chain from it.
   */
  private checkAcrossRestore(deviceId: string, head: SignedAuditHead['head'], known: AuditHeadState, restoredBox: boolean): Verdict {
    const what = restoredBox ? `restored from a backup (epoch ${head.epoch!.n})` : 'ahead of what this force remembers (the force was restored from a backup)';
    if (!head.from || !head.digests) return { kind: 'alarm', why: `${what}, but its head does not start from a head the force acknowledged` };
    const sameAsKnown = head.from.count === known.count && head.from.head_hash === known.headHash;
    const proof = head.from_ack;
    const own =
      proof !== undefined &&
      proof.ack.kid === this.d.receiptKey.kid &&
      proof.ack.device_id === deviceId &&
      proof.ack.count === head.from.count &&
      proof.ack.head_hash === head.from.head_hash &&
      verifyWith(this.d.receiptKey.pk, SIG_CONTEXT.auditAck, proof.sig, canonicalBytes(proof.ack));
    if (!sameAsKnown && !own) {
      return { kind: 'alarm', why: restoredBox ? `${what}, but it extends a head (${head.from.count} rows) without this force's acknowledgement of it` : `forked: the box extends a head (${head.from.count} rows) the force never acknowledged` };
    }
    const broken = this.chains(head, head.from.head_hash);
    if (broken) return broken;
    if (!restoredBox) return { kind: 'record', status: 'extended', forceRestored: { from: head.from.count, known: known.count } };
    const e = head.epoch!;
    return { kind: 'record', status: 'extended', restored: { n: e.n, id: e.id, baseCount: e.base_count, lostRows: Math.max(0, known.count - e.base_count), from: head.from.count } };
  }

  /** Chain the digests from `fromHash`: undefined when they lead to the head, else the alarm. */
  private chains(head: SignedAuditHead['head'], fromHash: string): Verdict | undefined {
    const from = head.from!;
    const digests = head.digests!;
    if (from.count + digests.length !== head.count) return { kind: 'alarm', why: `${digests.length} digests do not lead from ${from.count} to ${head.count} rows` };
    let hash = fromHash;
    for (const digest of digests) hash = linkHash(hash, digest);
    if (hash !== head.head_hash) return { kind: 'alarm', why: `rewritten: the head at ${head.count} rows does not extend the acknowledged head at ${from.count} rows` };
    return undefined;
  }

  private ack(deviceId: string, count: number, headHash: string): AuditAckMessage {
    const ack: AuditAckMessage['ack'] = { v: 1, kind: 'audit_head', device_id: deviceId, count, head_hash: headHash, ts: this.d.clock.now(), kid: this.d.receiptKey.kid };
    return { ack, sig: signWith(this.d.receiptKey, SIG_CONTEXT.auditAck, canonicalBytes(ack)) };
  }
}
