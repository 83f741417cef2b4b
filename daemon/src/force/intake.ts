import type { Logger } from 'pino';
import type { AuditLog } from '../audit/log.js';
import { decodeChunkMessage, EnvelopeError, expectedChunkLength, openEnvelope, verifyManifest, type EnvelopeManifest } from '../crypto/envelope.js';
import type { KeyPairFile } from '../crypto/keys.js';
import type { SignedKeySet } from '../crypto/keyset.js';
import { decodePackage, PackageError, type DecodedPackage } from '../evidence/package.js';
import { EnvelopeManifestSchema, parsePayload } from '../protocol/schemas.js';
import { parseUpTopic } from '../protocol/topics.js';
import type { Db } from '../db/db.js';
import type { Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import { clipText, toWellFormedText } from '../util/text.js';
import type { ForceConfig } from './config.js';
import { signReceipt } from './receipts.js';
import { storeVerifiedPackage } from './evidence-store.js';
import { DeviceRegistry, type Device } from './registry.js';

export type IntakeOutcome =
  | { kind: 'accepted' | 'chunk' | 'duplicate' | 'ignored' }
  | { kind: 'stored'; envelopeId: string }
  | { kind: 'rejected'; reason: string; message: string };

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
}

class Rejection extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly deviceId?: string,
    readonly envelopeId?: string,
  ) {
    super(message);
  }
}

interface EnvelopeRow {
  envelope_id: string;
  device_id: string;
  incident_id: string;
  msg_seq: number;
  state: 'receiving' | 'opening' | 'stored' | 'rejected';
  manifest: string;
  n_chunks: number;
  first_seen_utc: number;
  last_activity_utc: number;
}

/**
 * The force's intake of evidence, independent of MQTT: manifests and chunks in, verified packages and
 * signed receipts out. Order of checks: registry and caps, the device signature (from the manifest alone),
 * then reassembly, the signed body hash, decryption, the inner signed manifest and every file hash.
 * State lives in the force database, so several receivers (a shared subscription) and restarts work.
 */
export class EnvelopeIntake {
  private readonly registry: DeviceRegistry;

  constructor(private readonly o: IntakeOptions) {
    this.registry = new DeviceRegistry(o.db);
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

  private row(envelopeId: string): EnvelopeRow | undefined {
    return this.o.db.prepare('SELECT * FROM envelopes WHERE envelope_id = ?').get(envelopeId) as EnvelopeRow | undefined;
  }

  private async manifest(deviceId: string, envelopeId: string, payload: Buffer): Promise<IntakeOutcome> {
    const device = this.device(deviceId);
    let m: EnvelopeManifest;
    try {
      m = parsePayload(EnvelopeManifestSchema, payload) as EnvelopeManifest;
    } catch (err) {
      throw new Rejection('bad_schema', errorMessage(err), deviceId, envelopeId);
    }
    if (m.header.device_id !== deviceId || m.header.envelope_id !== envelopeId) {
      throw new Rejection('topic_mismatch', 'the manifest names another device or envelope than its topic', deviceId, envelopeId);
    }
    try {
      verifyManifest(m, device.signingPk, { maxChunks: this.o.caps.max_chunks, maxBytes: this.o.caps.max_envelope_bytes });
    } catch (err) {
      if (err instanceof EnvelopeError) throw new Rejection(err.reason, err.message, deviceId, envelopeId);
      throw err;
    }
    this.checkRecipients(m, deviceId);
    const now = this.o.clock.now();
    const existing = this.row(envelopeId);
    // An envelope id names one body: a manifest for another body under it is refused, and a receipt only
    // ever confirms the body that was kept.
    const kept = existing && existing.state !== 'rejected' ? (JSON.parse(existing.manifest) as EnvelopeManifest).body_sha256 : undefined;
    if (kept !== undefined && kept !== m.body_sha256) {
      throw new Rejection('body_mismatch', `envelope ${envelopeId} was received with body ${kept}; this manifest names another body (${m.body_sha256})`, deviceId, envelopeId);
    }
    if (existing?.state === 'stored') {
      await this.sendComplete(existing.device_id, envelopeId, kept!);
      return { kind: 'duplicate' };
    }
    if (existing && existing.state !== 'rejected') {
      this.o.db.prepare('UPDATE envelopes SET last_activity_utc = ? WHERE envelope_id = ?').run(now, envelopeId);
      return { kind: 'duplicate' };
    }
    const result = this.o.db
      .transaction((): IntakeOutcome => {
        if (existing) this.o.db.prepare('DELETE FROM envelopes WHERE envelope_id = ?').run(envelopeId);
        const sameSeq = this.o.db.prepare('SELECT envelope_id FROM envelopes WHERE device_id = ? AND msg_seq = ?').get(deviceId, m.header.msg_seq) as { envelope_id: string } | undefined;
        if (sameSeq) throw new Rejection('replay', `msg_seq ${m.header.msg_seq} was already used by envelope ${sameSeq.envelope_id}`, deviceId, envelopeId);
        const pending = (this.o.db.prepare("SELECT COUNT(*) AS n FROM envelopes WHERE device_id = ? AND state IN ('receiving', 'opening')").get(deviceId) as { n: number }).n;
        if (pending >= this.o.caps.max_pending_per_device) {
          throw new Rejection('too_many_pending', `device ${deviceId} already has ${pending} envelopes in reassembly (cap ${this.o.caps.max_pending_per_device})`, deviceId, envelopeId);
        }
        this.o.db
          .prepare("INSERT INTO envelopes (envelope_id, device_id, incident_id, msg_seq, state, manifest, n_chunks, first_seen_utc, last_activity_utc) VALUES (?, ?, ?, ?, 'receiving', ?, ?, ?, ?)")
          .run(envelopeId, deviceId, m.header.incident_id, m.header.msg_seq, JSON.stringify(m), m.n_chunks, now, now);
        return { kind: 'accepted' };
      })
      .immediate();
    return result;
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
    const row = this.row(envelopeId);
    // A chunk before its manifest (or after the envelope is done) is dropped: a `missing` receipt gets it again.
    if (!row || row.state !== 'receiving') return { kind: 'ignored' };
    if (row.device_id !== deviceId) throw new Rejection('topic_mismatch', 'chunk for an envelope of another device', deviceId, envelopeId);
    if (msg.total !== row.n_chunks) throw new Rejection('wrong_total', `chunk says ${msg.total} chunks, the manifest ${row.n_chunks}`, deviceId, envelopeId);
    if (index >= row.n_chunks) throw new Rejection('wrong_total', `chunk index ${index} is beyond ${row.n_chunks} chunks`, deviceId, envelopeId);
    const m = JSON.parse(row.manifest) as EnvelopeManifest;
    const want = expectedChunkLength(m.header, index, row.n_chunks);
    if (msg.ct.length !== want) throw new Rejection('chunk_size', `chunk ${index} has ${msg.ct.length} bytes, expected ${want}`, deviceId, envelopeId);
    const now = this.o.clock.now();
    // Idempotent on (envelope, index): QoS 1 duplicates and resends change nothing.
    this.o.db.prepare('INSERT OR IGNORE INTO chunks (envelope_id, idx, data) VALUES (?, ?, ?)').run(envelopeId, index, msg.ct);
    this.o.db.prepare('UPDATE envelopes SET last_activity_utc = ? WHERE envelope_id = ?').run(now, envelopeId);
    const have = (this.o.db.prepare('SELECT COUNT(*) AS n FROM chunks WHERE envelope_id = ?').get(envelopeId) as { n: number }).n;
    if (have < row.n_chunks) return { kind: 'chunk' };
    return this.finalize(envelopeId);
  }

  /** All chunks are here: claim the envelope (one receiver wins), open, verify, store, receipt. */
  private async finalize(envelopeId: string): Promise<IntakeOutcome> {
    const claimed = this.o.db.prepare("UPDATE envelopes SET state = 'opening', last_activity_utc = ? WHERE envelope_id = ? AND state = 'receiving'").run(this.o.clock.now(), envelopeId).changes === 1;
    if (!claimed) return { kind: 'chunk' };
    const row = this.row(envelopeId)!;
    const m = JSON.parse(row.manifest) as EnvelopeManifest;
    const chunks = (this.o.db.prepare('SELECT data FROM chunks WHERE envelope_id = ? ORDER BY idx').all(envelopeId) as { data: Buffer }[]).map((c) => c.data);
    let pkg: DecodedPackage;
    let device: Device & { signingPk: string };
    try {
      device = this.device(row.device_id);
      const pt = await openEnvelope(m, chunks, this.o.recipientKeys());
      pkg = decodePackage(pt, device.signingPk, { deviceId: row.device_id, incidentId: row.incident_id });
    } catch (err) {
      const reason = err instanceof EnvelopeError || err instanceof PackageError ? err.reason : err instanceof Rejection ? err.reason : 'open_failed';
      if (reason === 'body_hash') {
        // Some chunk was corrupted or forged in transit: forget them all and ask the box again.
        this.o.db.transaction(() => {
          this.o.db.prepare('DELETE FROM chunks WHERE envelope_id = ?').run(envelopeId);
          this.o.db.prepare("UPDATE envelopes SET state = 'receiving', last_activity_utc = ? WHERE envelope_id = ?").run(this.o.clock.now(), envelopeId);
        })();
        await this.sendMissing(row.device_id, envelopeId, m.body_sha256, Array.from({ length: row.n_chunks }, (_, i) => i));
        return this.reject(new Rejection(reason, errorMessage(err), row.device_id, envelopeId), `${this.o.prefix}/${row.device_id}/ev/${envelopeId}`);
      }
      return this.fail(row, reason, errorMessage(err));
    }
    const pm = pkg.signed.manifest;
    try {
      storeVerifiedPackage({ db: this.o.db, audit: this.o.audit, storeDir: this.o.storeDir, now: this.o.clock.now() }, { envelopeId, deviceId: row.device_id, incidentId: row.incident_id, msgSeq: row.msg_seq, store: device.store, signerKid: m.header.signer_kid }, m, chunks, pkg);
    } catch (err) {
      // nothing was kept (the store removes its files); the box sends the envelope again when no receipt comes
      this.o.log.error({ err, device: row.device_id, envelope: envelopeId }, 'cannot store verified evidence');
      return this.fail(row, 'store_failed', `the force could not store the evidence: ${errorMessage(err)}`);
    }
    this.o.log.info({ device: row.device_id, incident: row.incident_id, envelope: envelopeId, subjects: pm.subjects.length, files: pm.files.length }, 'evidence verified and stored');
    await this.sendComplete(row.device_id, envelopeId, m.body_sha256);
    return { kind: 'stored', envelopeId };
  }

  /** The envelope is rejected for good: its chunks go, a rejection row and an audit row say why. */
  private fail(row: EnvelopeRow, reason: string, message: string): IntakeOutcome {
    this.o.db.transaction(() => {
      this.o.db.prepare('DELETE FROM chunks WHERE envelope_id = ?').run(row.envelope_id);
      this.o.db.prepare("UPDATE envelopes SET state = 'rejected', reason = ? WHERE envelope_id = ?").run(reason, row.envelope_id);
    })();
    return this.reject(new Rejection(reason, message, row.device_id, row.envelope_id), `${this.o.prefix}/${row.device_id}/ev/${row.envelope_id}`);
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
    this.o.db.transaction(() => {
      // the refused message's own words may be ill-formed text: quote them well-formed
      const text = (s: string, max: number): string => toWellFormedText(clipText(s, max));
      const deviceId = r.deviceId === undefined ? undefined : text(r.deviceId, 100);
      const envelopeId = r.envelopeId === undefined ? undefined : text(r.envelopeId, 100);
      this.o.db.prepare('INSERT INTO rejections (ts_utc, device_id, envelope_id, topic, reason, detail) VALUES (?, ?, ?, ?, ?, ?)').run(this.o.clock.now(), deviceId ?? null, envelopeId ?? null, text(topic, 300), r.reason, text(r.message, 1000));
      this.o.audit.append({ actor: { type: 'device', id: deviceId ?? 'unknown' }, action: 'evidence.rejected', objectIds: envelopeId ? [envelopeId] : [], result: 'denied', detail: { reason: r.reason, message: text(r.message, 300) } });
    })();
    this.o.log.warn({ reason: r.reason, device: r.deviceId, envelope: r.envelopeId, message: r.message }, 'evidence message rejected');
    return { kind: 'rejected', reason: r.reason, message: r.message };
  }

  /**
   * Periodic: ask for the chunks of quiet incomplete envelopes, retry an interrupted opening, and drop
   * partial envelopes past the reassembly time (the box sends them again whole).
   */
  async sweep(): Promise<void> {
    const now = this.o.clock.now();
    const quiet = now - this.o.caps.missing_after_s * 1000;
    const expired = now - this.o.caps.reassembly_timeout_s * 1000;
    // An envelope left `opening` (a receiver stopped mid-way) is taken over only after a long quiet, so a
    // slow but live receiver is never raced.
    const stuck = now - Math.max(60_000, 6 * this.o.caps.missing_after_s * 1000);
    const rows = this.o.db
      .prepare("SELECT * FROM envelopes WHERE (state = 'receiving' AND last_activity_utc <= ?) OR (state = 'opening' AND last_activity_utc <= ?)")
      .all(quiet, stuck) as EnvelopeRow[];
    // one envelope that fails does not hold up the others
    for (const row of rows) {
      try {
        await this.sweepOne(row, now, expired);
      } catch (err) {
        this.o.log.error({ err, device: row.device_id, envelope: row.envelope_id }, 'intake sweep: this envelope failed; the others go on');
      }
    }
  }

  private async sweepOne(row: EnvelopeRow, now: number, expired: number): Promise<void> {
    if (row.first_seen_utc <= expired) {
      this.fail(row, 'reassembly_timeout', `envelope incomplete after ${this.o.caps.reassembly_timeout_s} s`);
      return;
    }
    const have = new Set((this.o.db.prepare('SELECT idx FROM chunks WHERE envelope_id = ?').all(row.envelope_id) as { idx: number }[]).map((r) => r.idx));
    const m = JSON.parse(row.manifest) as EnvelopeManifest;
    if (have.size === row.n_chunks) {
      // Everything is here but opening never finished (a receiver stopped mid-way): do it now.
      this.o.db.prepare("UPDATE envelopes SET state = 'receiving' WHERE envelope_id = ?").run(row.envelope_id);
      await this.finalize(row.envelope_id);
      return;
    }
    const missing = Array.from({ length: row.n_chunks }, (_, i) => i).filter((i) => !have.has(i));
    this.o.db.prepare('UPDATE envelopes SET last_activity_utc = ? WHERE envelope_id = ?').run(now, row.envelope_id);
    this.o.log.info({ device: row.device_id, envelope: row.envelope_id, missing: missing.length }, 'asking the box for missing chunks');
    await this.sendMissing(row.device_id, row.envelope_id, m.body_sha256, missing);
  }
}
