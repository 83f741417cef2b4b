import { mkdirSync, copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { encodeChunkMessage, sealEnvelope } from '../../daemon/src/crypto/envelope.js';
import { generateKeyPair, type KeyPairFile } from '../../daemon/src/crypto/keys.js';
import { validRecipients } from '../../daemon/src/crypto/keyset.js';
import { sha256Hex } from '../../daemon/src/crypto/encoding.js';
import { buildPackage, packageInputFromFolder } from '../../daemon/src/evidence/builder.js';
import { encodeMastersPackage, MASTERS_SCHEMA } from '../../daemon/src/evidence/masters-package.js';
import { openForceDb, type ForceDb } from '../../daemon/src/force/database.js';
import { EnvelopeIntake } from '../../daemon/src/force/intake.js';
import { forceKeygen, loadKeySet, loadReceiptKey, loadRecipientKeys } from '../../daemon/src/force/keys.js';
import { DeviceRegistry } from '../../daemon/src/force/registry.js';
import { Gallery } from '../../daemon/src/force/gallery.js';
import { Workbench } from '../../daemon/src/force/workbench.js';
import { silentLogger } from '../../daemon/src/log/logger.js';
import { ManualClock, systemClock, type Clock } from '../../daemon/src/util/clock.js';
import { tempDir } from './paths.js';
import type { ForceConfig } from '../../daemon/src/force/config.js';

/**
 * A force store filled without a broker: each incident is packaged, signed and sealed exactly as a box
 * does, and fed to the real intake (verify, decrypt, store). For search tests.
 */
export class ForceStoreBuilder {
  readonly forceDir: string;
  readonly fdb: ForceDb;
  private readonly intake: EnvelopeIntake;

  constructor(readonly dir: string) {
    this.forceDir = path.join(dir, 'force');
    forceKeygen(this.forceDir, { now: systemClock.now(), validityDays: 30 });
    this.fdb = openForceDb(this.forceDir);
    this.intake = new EnvelopeIntake({
      db: this.fdb.db,
      audit: this.fdb.audit,
      storeDir: path.join(this.forceDir, 'store'),
      prefix: 'hindsight/v1',
      caps: { max_envelope_bytes: 1e8, max_chunks: 1e4, reassembly_timeout_s: 600, max_pending_per_device: 8, missing_after_s: 5 },
      recipientKeys: () => loadRecipientKeys(this.forceDir),
      receiptKey: loadReceiptKey(this.forceDir),
      clock: systemClock,
      log: silentLogger,
      sendReceipt: async () => undefined,
    });
    writeFileSync(path.join(this.forceDir, 'force.yaml'), 'force: {dir: .}\nlog: {level: warn, pretty: false}\n');
  }

  private readonly deviceKeys = new Map<string, KeyPairFile>();
  private msgSeq = 0;

  /**
   * One incident from one store's box; each subject has crop files (copied) and an embedding. `clip`: the
   * bytes of a master clip of camera `till2`, named (hash) in the evidence manifest and kept on the "box".
   */
  async addIncident(deviceId: string, store: string, incidentId: string, subjects: { crops: string[]; embedding: Float32Array }[], clip?: Buffer): Promise<void> {
    const key = generateKeyPair('ed25519');
    this.deviceKeys.set(deviceId, key);
    const registry = new DeviceRegistry(this.fdb.db);
    registry.enroll(deviceId, store, systemClock.now());
    registry.register(deviceId, key.pk, systemClock.now());
    const folder = path.join(this.dir, 'packages', incidentId);
    if (clip) {
      mkdirSync(path.join(folder, 'clips'), { recursive: true });
      writeFileSync(path.join(folder, 'clips', 'till2.ts'), clip);
    }
    subjects.forEach((s, i) => {
      mkdirSync(path.join(folder, 'crops', `s${i}`), { recursive: true });
      mkdirSync(path.join(folder, 'embeddings'), { recursive: true });
      s.crops.forEach((c, k) => copyFileSync(c, path.join(folder, 'crops', `s${i}`, `${k}.jpg`)));
      writeFileSync(path.join(folder, 'embeddings', `s${i}.f32`), Buffer.from(s.embedding.buffer, s.embedding.byteOffset, s.embedding.byteLength));
    });
    const now = systemClock.now();
    const pt = buildPackage(
      packageInputFromFolder(folder, { incidentId, deviceId, store, window: { start: now - 90_000, end: now }, embeddingModel: 'test-model', models: [], tools: {}, clock: { synced: true, offset_ms: 0, source: 'unknown' }, now }),
      key,
    ).plaintext;
    await this.deliver(deviceId, incidentId, pt);
  }

  /** The box of `deviceId` sends the master clip of camera till2 of an incident, as on `upload_masters`. */
  async addMasterClip(deviceId: string, incidentId: string, clip: Buffer): Promise<void> {
    const key = this.deviceKeys.get(deviceId)!;
    const pt = encodeMastersPackage({ v: 1, schema: MASTERS_SCHEMA, incident_id: incidentId, device_id: deviceId, created_at: systemClock.now(), camera: 'till2', name: 'till2.ts', sha256: sha256Hex(clip), bytes: clip.length, media_type: 'video/mp2t' }, clip, key);
    await this.deliver(deviceId, incidentId, pt);
  }

  /** Seal `pt` as the box does and feed it to the real intake; throws unless it is stored. */
  private async deliver(deviceId: string, incidentId: string, pt: Buffer): Promise<void> {
    const now = systemClock.now();
    const key = this.deviceKeys.get(deviceId)!;
    const e = await sealEnvelope({ plaintext: pt, device: key, deviceId, incidentId, msgSeq: ++this.msgSeq, recipients: validRecipients(loadKeySet(this.forceDir).keyset, now), clock: { synced: true, offset_ms: 0 }, now });
    const base = `hindsight/v1/${deviceId}/ev/${e.manifest.header.envelope_id}`;
    await this.intake.handle(`${base}/m`, Buffer.from(JSON.stringify(e.manifest)));
    const outcomes = [];
    for (const [idx, c] of e.chunks.entries()) outcomes.push(await this.intake.handle(`${base}/${idx}`, encodeChunkMessage(e.manifest.header.envelope_id, idx, e.chunks.length, c)));
    if (!outcomes.some((o) => o.kind === 'stored')) throw new Error(`incident ${incidentId} was not stored: ${JSON.stringify(outcomes)}`);
  }

  /** The force's triage and candidate lists on this store (default policy). */
  workbench(clock: Clock = systemClock): Workbench {
    const gallery = new Gallery({ db: this.fdb.db, audit: this.fdb.audit, clock, photosDir: path.join(this.forceDir, 'gallery', 'photos') });
    return new Workbench({ db: this.fdb.db, audit: this.fdb.audit, clock, gallery, policy: { topK: 10, threshold: 0.34, triageMaxDays: 31, retentionDays: 90, seriesThreshold: 0.45 } });
  }

  /** An officer accepts every incident waiting in triage, every subject: what a search across incidents may then compare. */
  acceptAll(): void {
    const w = this.workbench();
    for (const i of w.queue()) w.accept(i.envelopeId, { crimeRef: 'CR/TEST/0001', necessity: 'linking thefts across the test stores', subjects: 'all' }, { type: 'cli', id: 'officer' });
  }

  close(): void {
    this.fdb.close();
  }
}

/** The real intake of the force installed in `forceDir` (store in <forceDir>/store), on a test clock; receipts go to `sendReceipt`. */
export function forceIntake(forceDir: string, fdb: ForceDb, clock: Clock, caps: ForceConfig['caps'], sendReceipt: (deviceId: string, payload: string) => Promise<void>): EnvelopeIntake {
  return new EnvelopeIntake({
    db: fdb.db,
    audit: fdb.audit,
    storeDir: path.join(forceDir, 'store'),
    prefix: 'hindsight/v1',
    caps,
    recipientKeys: () => loadRecipientKeys(forceDir),
    keyset: () => loadKeySet(forceDir),
    receiptKey: loadReceiptKey(forceDir),
    clock,
    log: silentLogger,
    sendReceipt,
  });
}

/** A force installed in `forceDir` (keys valid 30 days from `now`) with box-1 of store "Shop" enrolled and its signing key registered. */
export function forceWithBox(forceDir: string, clock: Clock, now: number): { fdb: ForceDb; device: KeyPairFile } {
  forceKeygen(forceDir, { now, validityDays: 30 });
  const fdb = openForceDb(forceDir, clock);
  const device = generateKeyPair('ed25519');
  const reg = new DeviceRegistry(fdb.db);
  reg.enroll('box-1', 'Shop', now);
  reg.register('box-1', device.pk, now);
  return { fdb, device };
}

/**
 * A new force installation on a manual clock with three boxes enrolled: box-1 (High Street), box-2
 * (Market Square) and box-3 (Old Town), box-2 revoked unless `revoked` names another.
 */
export function forceWithBoxes(prefix: string, revoked = 'box-2'): { dir: string; fdb: ForceDb; clock: ManualClock; registry: DeviceRegistry } {
  const dir = tempDir(prefix);
  const clock = new ManualClock(Date.UTC(2026, 11, 7, 9));
  forceKeygen(dir, { now: clock.now(), validityDays: 30 });
  const fdb = openForceDb(dir, clock);
  const registry = new DeviceRegistry(fdb.db);
  registry.enroll('box-1', 'High Street', clock.now());
  registry.enroll('box-2', 'Market Square', clock.now());
  registry.enroll('box-3', 'Old Town', clock.now());
  registry.revoke(revoked);
  return { dir, fdb, clock, registry };
}
