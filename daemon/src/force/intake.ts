import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/log.js';
import { decodeChunkMessage, EnvelopeError, expectedChunkLength, openEnvelope, verifyManifest, type EnvelopeManifest } from '../crypto/envelope.js';
import type { KeyPairFile } from '../crypto/keys.js';
import type { SignedKeySet } from '../crypto/keyset.js';
import { decodeDeletionsPackage, DELETIONS_SCHEMA } from '../evidence/deletions-package.js';
import { decodeMastersPackage, MASTERS_SCHEMA, packageSchemaOf, type DecodedMasters } from '../evidence/masters-package.js';
import { decodePackage, PackageError, type DecodedPackage } from '../evidence/package.js';
import { EnvelopeManifestSchema, parsePayload, type SignedDeletionsManifest } from '../protocol/schemas.js';
import { parseUpTopic } from '../protocol/topics.js';
import type { Db } from '../db/db.js';
import type { Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import { isSafeId } from '../util/ids.js';
import { clipText, toWellFormedText } from '../util/text.js';
import type { ForceConfig } from './config.js';
import { ChunksRepo } from './db/chunks.js';
import { EnvelopesRepo, OpeningTakenOver, type Envelope } from './db/envelopes.js';
import { RejectionsRepo } from './db/rejections.js';
import { RejectionLimiter, suppressedText, type SuppressedRejections } from './rejection-limiter.js';
import { signReceipt } from './receipts.js';
import { storeVerifiedPackage } from './evidence-store.js';
import { storeMasterClip } from './masters-store.js';
import { storeDeletionReport } from './deletions-store.js';
import { DeviceRegistry, type Device } from './registry.js';

export type IntakeOutcome =
  | { kind: 'accepted' | 'chunk' | 'duplicate' | 'ignored' }
  | { kind: 'stored'; envelopeId: string }
  | { kind: 'rejected'; reason: string; message: string };

/**
 * How often a receiver opening an envelope says it is alive (envelopes.last_activity_utc): well inside the
 * sweep's quiet period (at least 60 s) after which another receiver takes an opening over.
 */
export const OPENER_HEARTBEAT_MS = 10_000;

/** A token for one attempt at opening an envelope (envelopes.opener; also in its temporary file names). */
const newOpener = (): string => randomBytes(8).toString('hex');

export interface IntakeOptions {
  db: Db;
  audit: AuditLog;
  storeDir: string;
  prefix: string;
  caps: ForceConfig['caps'];
  /** The force's recipient private keys; called per envelope so a rotation needs no restart. */
  recipientKeys: () => KeyPairFile[];
  /** The force's current key set (validity windows of the recipient keys). */
  keyset?: () => SignedKeySet | undefined;
  receiptKey: KeyPairFile;
  clock: Clock;
  log: Logger;
  /** Publish a signed receipt to the device's receipt topic. */
  sendReceipt: (deviceId: string, payload: string) => Promise<void>;
  /**
   * Rejections recorded one by one (row, audit row, log line, `rejected` receipt) per box and minute; the
   * rest are counted into one summary row per `summaryS`. Absent: every rejection is recorded in full.
   */
  rejectionLimits?: { perMinute: number; summaryS: number };
}

/**
 * Reasons that no resend can mend (the envelope as sealed will never be accepted): the force answers them
 * with a signed `rejected` receipt, so the box stops sending and a person learns why. Transient ones (a
 * busy receiver, a chunk damaged in transit, a box not registered yet, a reassembly that timed out) get
 * no such answer: the box's resend may succeed.
 */
const DEAD_REASONS = new Set([
  'bad_schema',
  'bad_signature',
  'version',
  'suite',
  'too_large',
  'too_many_chunks',
  'recipients',
  'no_recipients',
  'unknown_kid',
  'no_recipient_key',
  'unknown_recipient',
  'revoked_key',
  'expired_key',
  'replay',
  'decrypt',
  'unwrap',
  'length',
  'truncated',
  'open_failed',
  'file_hash',
  'file_name',
  'manifest',
  'mismatch',
  'missing_file',
  'trailing',
  'no_evidence',
  'master_unknown',
]);

class Rejection extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly deviceId?: string,
    readonly envelopeId?: string,
    /** The body the refused manifest named, when known (the box checks a `rejected` receipt names its body). */
    readonly bodySha256?: string,
  ) {
    super(message);
  }
}

/**
 * The force's intake of evidence, independent of MQTT: manifests and chunks in, verified packages and
 * signed receipts out. Order of checks: registry and caps, the device signature (from the manifest alone),
 * then reassembly, the signed body hash, decryption, the inner signed manifest and every file hash.
 * State lives in the force database, so several receivers (a shared subscription) and restarts work.
 */
export class EnvelopeIntake {
  private readonly registry: DeviceRegistry;
  private readonly envelopes: EnvelopesRepo;
  private readonly chunks: ChunksRepo;
  private readonly rejections: RejectionsRepo;
  private readonly limiter: RejectionLimiter | undefined;

  constructor(private readonly o: IntakeOptions) {
    this.registry = new DeviceRegistry(o.db);
    this.envelopes = new EnvelopesRepo(o.db);
    this.chunks = new ChunksRepo(o.db);
    this.rejections = new RejectionsRepo(o.db);
    const l = o.rejectionLimits;
    this.limiter = l && new RejectionLimiter({ perMinute: l.perMinute, summaryMs: l.summaryS * 1000 });
  }

  async handle(topic: string, payload: Buffer): Promise<IntakeOutcome> {
    const parsed = parseUpTopic(this.o.prefix, topic);
    try {
      if (!parsed) throw new Rejection('bad_topic', `not an evidence topic: ${topic.slice(0, 200)}`);
      if (parsed.kind === 'envelopeManifest') return await this.manifest(parsed.device, parsed.envelopeId, payload);
      if (parsed.kind === 'envelopeChunk') return await this.chunk(parsed.device, parsed.envelopeId, parsed.index, payload);
      return { kind: 'ignored' };
    } catch (err) {
      if (err instanceof Rejection) return this.reject(err, topic);
      throw err;
    }
  }

  private device(id: string): Device & { signingPk: string } {
    const d = this.registry.get(id);
    if (!d) throw new Rejection('unknown_device', `device ${id} is not enrolled`, id);
    if (d.revoked) throw new Rejection('revoked_device', `device ${id} is revoked`, id);
    if (!d.signingPk) throw new Rejection('unregistered_key', `device ${id} has no registered signing key (hindsight force register)`, id);
    return d as Device & { signingPk: string };
  }

  private async manifest(deviceId: string, envelopeId: string, payload: Buffer): Promise<IntakeOutcome> {
    const device = this.device(deviceId);
    let m: EnvelopeManifest;
    try {
      m = parsePayload(EnvelopeManifestSchema, payload);
    } catch (err) {
      throw new Rejection('bad_schema', errorMessage(err), deviceId, envelopeId);
    }
    if (m.header.device_id !== deviceId || m.header.envelope_id !== envelopeId) {
      throw new Rejection('topic_mismatch', 'the manifest names another device or envelope than its topic', deviceId, envelopeId);
    }
    try {
      verifyManifest(m, device.signingPk, { maxChunks: this.o.caps.max_chunks, maxBytes: this.o.caps.max_envelope_bytes });
    } catch (err) {
      if (err instanceof EnvelopeError) throw new Rejection(err.reason, err.message, deviceId, envelopeId, m.body_sha256);
      throw err;
    }
    try {
      this.checkRecipients(m, deviceId);
    } catch (err) {
      if (err instanceof Rejection) throw new Rejection(err.reason, err.message, deviceId, envelopeId, m.body_sha256);
      throw err;
    }
    const now = this.o.clock.now();
    // Decided under the write lock, reading the envelope's row there: with a shared subscription a resent
    // manifest may reach another receiver at the same moment, and the one that comes second must see the
    // first one's row (a duplicate), not take the envelope's own msg_seq for a replay.
    const decided = this.o.db
      .transaction((): { outcome: IntakeOutcome; complete?: { deviceId: string; body: string } } => {
        const existing = this.envelopes.get(envelopeId);
        // An envelope id names one body: a manifest for another body under it is refused, and a receipt only
        // ever confirms the body that was kept.
        const kept = existing && existing.state !== 'rejected' ? (JSON.parse(existing.manifest) as EnvelopeManifest).body_sha256 : undefined;
        if (kept !== undefined && kept !== m.body_sha256) {
          throw new Rejection('body_mismatch', `envelope ${envelopeId} was received with body ${kept}; this manifest names another body (${m.body_sha256})`, deviceId, envelopeId);
        }
        if (existing?.state === 'stored') return { outcome: { kind: 'duplicate' }, complete: { deviceId: existing.deviceId, body: kept! } };
        if (existing && existing.state !== 'rejected') {
          // An envelope being opened keeps the time of its claim: resends must not hide a stopped receiver's
          // claim from the sweep that takes it over.
          if (existing.state === 'receiving') this.envelopes.touch(envelopeId, now);
          return { outcome: { kind: 'duplicate' } };
        }
        if (existing) this.envelopes.delete(envelopeId);
        const sameSeq = this.envelopes.idBySeq(deviceId, m.header.msg_seq);
        if (sameSeq !== undefined) throw new Rejection('replay', `msg_seq ${m.header.msg_seq} was already used by envelope ${sameSeq}`, deviceId, envelopeId, m.body_sha256);
        const pending = this.envelopes.countInReassembly(deviceId);
        if (pending >= this.o.caps.max_pending_per_device) {
          throw new Rejection('too_many_pending', `device ${deviceId} already has ${pending} envelopes in reassembly (cap ${this.o.caps.max_pending_per_device})`, deviceId, envelopeId);
        }
        this.envelopes.addReceiving({ envelopeId, deviceId, incidentId: m.header.incident_id, msgSeq: m.header.msg_seq, manifest: JSON.stringify(m), nChunks: m.n_chunks, now });
        return { outcome: { kind: 'accepted' } };
      })
      .immediate();
    // a stored envelope sent again: its box missed the receipt, so it gets it again
    if (decided.complete) await this.sendComplete(decided.complete.deviceId, envelopeId, decided.complete.body);
    return decided.outcome;
  }

  /**
   * Before keeping anything: every recipient must be a key this force issued (it holds each private key
   * it ever issued; a box sealing to anyone else would hand the evidence to a third party), one of them
   * valid when the box sealed (a key rotated out of the set entirely is still accepted: a box that was
   * offline for weeks sealed to what it had), and none revoked before the box sealed.
   */
  private checkRecipients(m: EnvelopeManifest, deviceId: string): void {
    const held = new Set(this.o.recipientKeys().map((k) => k.kid));
    const envelopeId = m.header.envelope_id;
    const foreign = m.header.recipients.filter((kid) => !held.has(kid));
    if (foreign.length === m.header.recipients.length) throw new Rejection('no_recipient_key', `sealed to ${m.header.recipients.join(', ')}; this force holds none of these keys`, deviceId, envelopeId);
    if (foreign.length) throw new Rejection('unknown_recipient', `also sealed to ${foreign.join(', ')}, which this force never issued`, deviceId, envelopeId);
    const set = this.o.keyset?.()?.keyset;
    const windows = set?.recipients ?? [];
    const t = m.header.created_at;
    const revokedBefore = m.header.recipients.filter((kid) => set?.revoked?.includes(kid) && t >= (set.revoked_at?.[kid] ?? -Infinity));
    if (revokedBefore.length) throw new Rejection('revoked_key', `sealed at ${new Date(t).toISOString()} to revoked key(s) ${revokedBefore.join(', ')}`, deviceId, envelopeId);
    const valid = m.header.recipients.filter((kid) => {
      const w = windows.find((r) => r.kid === kid);
      return !w || (w.not_before <= t && t < w.not_after);
    });
    if (!valid.length) throw new Rejection('expired_key', `sealed at ${new Date(t).toISOString()} to keys that were not valid then (${m.header.recipients.join(', ')})`, deviceId, envelopeId);
  }

  private async chunk(deviceId: string, envelopeId: string, index: number, payload: Buffer): Promise<IntakeOutcome> {
    this.device(deviceId);
    let msg: ReturnType<typeof decodeChunkMessage>;
    try {
      msg = decodeChunkMessage(payload);
    } catch (err) {
      throw new Rejection(err instanceof EnvelopeError ? err.reason : 'chunk', errorMessage(err), deviceId, envelopeId);
    }
    if (msg.envelopeId !== envelopeId || msg.index !== index) throw new Rejection('chunk_prefix', 'the chunk prefix names another envelope or index than its topic', deviceId, envelopeId);
    const row = this.envelopes.get(envelopeId);
    // A chunk before its manifest (or after the envelope is done) is dropped: a `missing` receipt gets it again.
    if (!row || row.state !== 'receiving') return { kind: 'ignored' };
    if (row.deviceId !== deviceId) throw new Rejection('topic_mismatch', 'chunk for an envelope of another device', deviceId, envelopeId);
    if (msg.total !== row.nChunks) throw new Rejection('wrong_total', `chunk says ${msg.total} chunks, the manifest ${row.nChunks}`, deviceId, envelopeId);
    if (index >= row.nChunks) throw new Rejection('wrong_total', `chunk index ${index} is beyond ${row.nChunks} chunks`, deviceId, envelopeId);
    const m = JSON.parse(row.manifest) as EnvelopeManifest;
    const want = expectedChunkLength(m.header, index, row.nChunks);
    if (msg.ct.length !== want) throw new Rejection('chunk_size', `chunk ${index} has ${msg.ct.length} bytes, expected ${want}`, deviceId, envelopeId);
    const now = this.o.clock.now();
    // Idempotent on (envelope, index): QoS 1 duplicates and resends change nothing.
    this.chunks.add(envelopeId, index, msg.ct);
    this.envelopes.touch(envelopeId, now);
    if (this.chunks.count(envelopeId) < row.nChunks) return { kind: 'chunk' };
    return this.finalize(envelopeId);
  }

  /** All chunks are here: claim the envelope (one receiver wins), then open it. */
  private async finalize(envelopeId: string): Promise<IntakeOutcome> {
    const opener = newOpener();
    if (!this.envelopes.claimForOpening(envelopeId, this.o.clock.now(), opener)) return { kind: 'chunk' };
    return this.open(envelopeId, opener);
  }

  /**
   * Open, verify, store and receipt an envelope this receiver claimed (or took over) as `opener`. While it
   * works, it gives a sign of life every OPENER_HEARTBEAT_MS, so no sweep takes a slow but live opening over.
   */
  private async open(envelopeId: string, opener: string): Promise<IntakeOutcome> {
    const heartbeat = setInterval(() => {
      try {
        if (!this.envelopes.stillOpening(envelopeId, opener, this.o.clock.now())) clearInterval(heartbeat);
      } catch (err) {
        this.o.log.warn({ err: errorMessage(err), envelope: envelopeId }, 'cannot mark the envelope being opened as alive; a sweep may take it over after its quiet period');
      }
    }, OPENER_HEARTBEAT_MS);
    heartbeat.unref();
    try {
      return await this.openHeld(envelopeId, opener);
    } catch (err) {
      if (!(err instanceof OpeningTakenOver)) throw err;
      // it looked stuck (no sign of life for the sweep's quiet period): the receiver that took it over stores it
      this.o.log.warn({ envelope: envelopeId }, 'another receiver took this envelope over while this one opened it; it stores it, this one keeps nothing');
      return { kind: 'duplicate' };
    } finally {
      clearInterval(heartbeat);
    }
  }

  private async openHeld(envelopeId: string, opener: string): Promise<IntakeOutcome> {
    const row = this.envelopes.get(envelopeId)!;
    const m = JSON.parse(row.manifest) as EnvelopeManifest;
    const chunks = this.chunks.data(envelopeId);
    let pkg: DecodedPackage | undefined;
    let masters: DecodedMasters | undefined;
    let deletions: SignedDeletionsManifest | undefined;
    let device: Device & { signingPk: string };
    try {
      device = this.device(row.deviceId);
      const pt = await openEnvelope(m, chunks, this.o.recipientKeys());
      const expect = { deviceId: row.deviceId, incidentId: row.incidentId };
      // an incident's evidence, or one of its master clips sent on the force's upload_masters
      const schema = packageSchemaOf(pt);
      if (schema === MASTERS_SCHEMA) masters = decodeMastersPackage(pt, device.signingPk, expect);
      else if (schema === DELETIONS_SCHEMA) deletions = decodeDeletionsPackage(pt, device.signingPk, row.deviceId);
      else pkg = decodePackage(pt, device.signingPk, expect);
    } catch (err) {
      const reason = err instanceof EnvelopeError || err instanceof PackageError ? err.reason : err instanceof Rejection ? err.reason : 'open_failed';
      if (reason === 'body_hash') {
        // Some chunk was corrupted or forged in transit: forget them all and ask the box again.
        const mine = this.o.db.transaction(() => {
          if (!this.envelopes.setReceiving(envelopeId, this.o.clock.now(), opener)) return false;
          this.chunks.deleteAll(envelopeId);
          return true;
        })();
        if (!mine) throw new OpeningTakenOver(envelopeId);
        await this.sendMissing(row.deviceId, envelopeId, m.body_sha256, Array.from({ length: row.nChunks }, (_, i) => i));
        return this.reject(new Rejection(reason, errorMessage(err), row.deviceId, envelopeId), `${this.o.prefix}/${row.deviceId}/ev/${envelopeId}`);
      }
      return this.fail(row, reason, errorMessage(err), opener);
    }
    const stored = { envelopeId, deviceId: row.deviceId, incidentId: row.incidentId, msgSeq: row.msgSeq, store: device.store, signerKid: m.header.signer_kid, opener };
    // where and how whatever the envelope held is kept: evidence, a master clip or a deletion report
    const store = { db: this.o.db, audit: this.o.audit, storeDir: this.o.storeDir, now: this.o.clock.now() };
    if (deletions) {
      const added = storeDeletionReport(store, stored, deletions);
      this.o.log.info({ device: row.deviceId, envelope: envelopeId, rows: deletions.manifest.rows.length, new: added }, 'deletion receipts stored');
      await this.sendComplete(row.deviceId, envelopeId, m.body_sha256);
      return { kind: 'stored', envelopeId };
    }
    if (masters) {
      try {
        storeMasterClip(store, stored, masters);
      } catch (err) {
        if (err instanceof OpeningTakenOver) throw err;
        if (err instanceof PackageError) return this.fail(row, err.reason, err.message, opener);
        this.o.log.error({ err, device: row.deviceId, envelope: envelopeId }, 'cannot store a master clip');
        return this.fail(row, 'store_failed', `the force could not store the master clip: ${errorMessage(err)}`, opener);
      }
      this.o.log.info({ device: row.deviceId, incident: row.incidentId, envelope: envelopeId, camera: masters.signed.manifest.camera, bytes: masters.signed.manifest.bytes }, 'master clip verified and stored');
      await this.sendComplete(row.deviceId, envelopeId, m.body_sha256);
      return { kind: 'stored', envelopeId };
    }
    const pm = pkg!.signed.manifest;
    try {
      storeVerifiedPackage(store, stored, m, chunks, pkg!);
    } catch (err) {
      if (err instanceof OpeningTakenOver) throw err;
      // nothing was kept (the store removes its files); the box sends the envelope again when no receipt comes
      this.o.log.error({ err, device: row.deviceId, envelope: envelopeId }, 'cannot store verified evidence');
      return this.fail(row, 'store_failed', `the force could not store the evidence: ${errorMessage(err)}`, opener);
    }
    this.o.log.info({ device: row.deviceId, incident: row.incidentId, envelope: envelopeId, subjects: pm.subjects.length, files: pm.files.length }, 'evidence verified and stored');
    await this.sendComplete(row.deviceId, envelopeId, m.body_sha256);
    return { kind: 'stored', envelopeId };
  }

  /**
   * The envelope is rejected for good: its chunks go, a rejection row and an audit row say why. `opener`:
   * the attempt that is opening it (it must still hold it); none: an envelope still `receiving`.
   */
  private fail(row: Envelope, reason: string, message: string, opener?: string): IntakeOutcome {
    const rejected = this.o.db.transaction(() => {
      if (!this.envelopes.setRejected(row.envelopeId, reason, opener === undefined ? 'receiving' : { opener })) return false;
      this.chunks.deleteAll(row.envelopeId);
      return true;
    })();
    // another receiver took it on since this one read it (e.g. a sweep's expiry of an envelope whose last chunk just came)
    if (!rejected) return { kind: 'duplicate' };
    const m = JSON.parse(row.manifest) as EnvelopeManifest;
    return this.reject(new Rejection(reason, message, row.deviceId, row.envelopeId, m.body_sha256), `${this.o.prefix}/${row.deviceId}/ev/${row.envelopeId}`);
  }

  /**
   * A refusal no resend can mend, of an enrolled box's envelope: a signed `rejected` receipt with the
   * reason, so the box stops sending it and shows a person why (PROTOCOL.md, dead envelopes).
   */
  private async sendRejected(r: Rejection): Promise<void> {
    if (!DEAD_REASONS.has(r.reason) || r.deviceId === undefined || r.envelopeId === undefined || !/^[0-9a-f]{32}$/.test(r.envelopeId)) return;
    const device = this.registry.get(r.deviceId);
    if (!device || device.revoked) return;
    const reason = clipText(`${r.reason}: ${toWellFormedText(r.message)}`, 480);
    const receipt = signReceipt(this.o.receiptKey, { envelope: r.envelopeId, device_id: r.deviceId, body_sha256: r.bodySha256 ?? '', status: 'rejected', missing: [], reason, ts: this.o.clock.now() });
    await this.o.sendReceipt(r.deviceId, JSON.stringify(receipt)).catch((err) => this.o.log.warn({ err: errorMessage(err), envelope: r.envelopeId }, 'cannot send the rejected receipt now; the box gets it again when it resends'));
  }

  private async sendComplete(deviceId: string, envelopeId: string, bodySha256: string): Promise<void> {
    const r = signReceipt(this.o.receiptKey, { envelope: envelopeId, device_id: deviceId, body_sha256: bodySha256, status: 'complete', missing: [], ts: this.o.clock.now() });
    await this.o.sendReceipt(deviceId, JSON.stringify(r)).catch((err) => this.o.log.warn({ err: errorMessage(err), envelope: envelopeId }, 'cannot send the complete receipt now; the box will resend and get it then'));
  }

  private async sendMissing(deviceId: string, envelopeId: string, bodySha256: string, missing: number[]): Promise<void> {
    const r = signReceipt(this.o.receiptKey, { envelope: envelopeId, device_id: deviceId, body_sha256: bodySha256, status: 'missing', missing: missing.slice(0, 100_000), ts: this.o.clock.now() });
    await this.o.sendReceipt(deviceId, JSON.stringify(r)).catch((err) => this.o.log.warn({ err: errorMessage(err), envelope: envelopeId }, 'cannot send a missing receipt now'));
  }

  private reject(r: Rejection, topic: string): IntakeOutcome {
    const outcome: IntakeOutcome = { kind: 'rejected', reason: r.reason, message: r.message };
    // a flooding or broken box: counted for its summary, not recorded (nor answered) one by one
    const source = rejectionSource(this.o.prefix, topic, r.deviceId);
    if (this.limiter && !this.limiter.admit(source, r.reason, this.o.clock.now())) return outcome;
    this.o.db.transaction(() => {
      // the refused message's own words may be ill-formed text: quote them well-formed
      const text = (s: string, max: number): string => toWellFormedText(clipText(s, max));
      const deviceId = r.deviceId === undefined ? undefined : text(r.deviceId, 100);
      const envelopeId = r.envelopeId === undefined ? undefined : text(r.envelopeId, 100);
      this.rejections.add({ tsUtc: this.o.clock.now(), deviceId: deviceId ?? null, envelopeId: envelopeId ?? null, topic: text(topic, 300), reason: r.reason, detail: text(r.message, 1000) });
      // a topic that names no device is still the sender's: the broker lets a box write only below its own name
      this.o.audit.append({ actor: { type: 'device', id: deviceId ?? text(source, 100) }, action: 'evidence.rejected', objectIds: envelopeId ? [envelopeId] : [], result: 'denied', detail: { reason: r.reason, message: text(r.message, 300) } });
    })();
    this.o.log.warn({ reason: r.reason, device: r.deviceId, envelope: r.envelopeId, topic: topic.slice(0, 200), message: r.message }, 'evidence message rejected');
    void this.sendRejected(r);
    return outcome;
  }

  /**
   * Write the summaries of suppressed rejections whose period is over (all of them with `all`, at
   * shutdown): one rejection row (reason `suppressed`), one audit row and one log line per box.
   */
  flushSuppressed(all = false): void {
    if (!this.limiter) return;
    const now = this.o.clock.now();
    for (const s of this.limiter.due(now, all)) this.recordSuppressed(s, now);
  }

  private recordSuppressed(s: SuppressedRejections, now: number): void {
    const text = suppressedText(s, now);
    const deviceId = s.source === UNKNOWN_SOURCE ? null : s.source;
    this.o.db.transaction(() => {
      this.rejections.add({ tsUtc: now, deviceId, envelopeId: null, topic: `${this.o.prefix}/${s.source}`, reason: 'suppressed', detail: text });
      this.o.audit.append({ actor: { type: 'device', id: s.source }, action: 'evidence.rejected', objectIds: [], result: 'denied', detail: { reason: 'suppressed', count: s.count, reasons: s.reasons, first_utc: s.firstUtc, last_utc: s.lastUtc } });
    })();
    this.o.log.warn({ device: s.source, suppressed: s.count, reasons: s.reasons }, text);
  }

  /**
   * Periodic: ask for the chunks of quiet incomplete envelopes, retry an interrupted opening, and drop
   * partial envelopes past the reassembly time (the box sends them again whole).
   */
  async sweep(): Promise<void> {
    this.flushSuppressed();
    const now = this.o.clock.now();
    const quiet = now - this.o.caps.missing_after_s * 1000;
    const expired = now - this.o.caps.reassembly_timeout_s * 1000;
    // An envelope left `opening` (a receiver stopped mid-way) is taken over only after a long quiet, so a
    // slow but live receiver is never raced.
    const stuck = now - Math.max(60_000, 6 * this.o.caps.missing_after_s * 1000);
    const rows = this.envelopes.quiet(quiet, stuck);
    // one envelope that fails does not hold up the others
    for (const row of rows) {
      try {
        await this.sweepOne(row, now, expired, stuck);
      } catch (err) {
        this.o.log.error({ err, device: row.deviceId, envelope: row.envelopeId }, 'intake sweep: this envelope failed; the others go on');
      }
    }
  }

  private async sweepOne(row: Envelope, now: number, expired: number, stuck: number): Promise<void> {
    if (row.state === 'opening') {
      // Its receiver stopped mid-way: taken over by whichever receiver's sweep gets there first. The rows
      // were read a while ago (another receiver may have taken it over since), so the database decides.
      const opener = newOpener();
      if (this.envelopes.takeOverOpening(row.envelopeId, stuck, now, opener)) await this.open(row.envelopeId, opener);
      return;
    }
    if (row.firstSeenUtc <= expired) {
      this.fail(row, 'reassembly_timeout', `envelope incomplete after ${this.o.caps.reassembly_timeout_s} s`);
      return;
    }
    const have = new Set(this.chunks.indexes(row.envelopeId));
    const m = JSON.parse(row.manifest) as EnvelopeManifest;
    if (have.size === row.nChunks) {
      // Every chunk is here but none was claimed (the receiver that kept the last one stopped before it could).
      await this.finalize(row.envelopeId);
      return;
    }
    const missing = Array.from({ length: row.nChunks }, (_, i) => i).filter((i) => !have.has(i));
    this.envelopes.touch(row.envelopeId, now);
    this.o.log.info({ device: row.deviceId, envelope: row.envelopeId, missing: missing.length }, 'asking the box for missing chunks');
    await this.sendMissing(row.deviceId, row.envelopeId, m.body_sha256, missing);
  }
}

const UNKNOWN_SOURCE = 'unknown';

/**
 * Whose rejection this is, for its rate limit: the device it names, else the first level of its topic
 * below the prefix (the broker's ACL lets a box write only there), else `unknown`.
 */
function rejectionSource(prefix: string, topic: string, deviceId: string | undefined): string {
  if (deviceId !== undefined) return deviceId.slice(0, 100);
  if (!topic.startsWith(`${prefix}/`)) return UNKNOWN_SOURCE;
  const first = topic.slice(prefix.length + 1).split('/', 1)[0]!;
  return isSafeId(first) ? first : UNKNOWN_SOURCE;
}
