import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import sharp from 'sharp';
import { encodeChunkMessage, sealEnvelope } from '../crypto/envelope.js';
import { generateKeyPair, type KeyPairFile } from '../crypto/keys.js';
import { validRecipients } from '../crypto/keyset.js';
import { buildPackage, packageInputFromFolder } from '../evidence/builder.js';
import { openForceDb } from '../force/database.js';
import { loadKeySet } from '../force/keys.js';
import { DeviceRegistry } from '../force/registry.js';
import { withTimeout, MAX_PACKET_BYTES } from '../protocol/mqtt.js';
import { DeviceTopics } from '../protocol/topics.js';
import { newId } from '../util/ids.js';
import type { ForceKit } from './force.js';

export interface SimulatedBoxOptions {
  /** Ciphertext bytes per chunk (default: the box's, 64 KiB); small ones spread an envelope over many messages. */
  chunkBytes?: number;
  /** Answer a `missing` receipt by publishing those chunks again, as the box does (default: only whole resends). */
  resendMissing?: boolean;
}

/**
 * A box reduced to its uplink (tests and benchmarks of the force's intake): its own enrollment's broker
 * login, a signing key registered with the force, and evidence packaged, signed, sealed and chunked exactly
 * as a box does, published QoS 1; the force's receipts are collected (their signature is not checked here:
 * the box's own tests do that).
 */
export class SimulatedBox {
  private msgSeq = 0;
  /** Connections made (the first and every reconnection: mqtt.js sends unacknowledged publishes again on each). */
  connects = 0;
  private readonly receipts = new Map<string, { status: string; atMs: number }>();
  /** `complete` receipts counted per envelope (the force sends one again when a stored envelope comes again). */
  private readonly completes = new Map<string, number>();
  private readonly waiters = new Map<string, () => void>();
  /** What was published under each envelope id, for a resend. */
  private readonly sent = new Map<string, { topic: string; payload: Buffer | string }[]>();
  private readonly topics: DeviceTopics;

  private constructor(
    readonly deviceId: string,
    readonly client: MqttClient,
    private readonly key: KeyPairFile,
    private readonly kit: ForceKit,
    private readonly options: SimulatedBoxOptions,
  ) {
    this.topics = new DeviceTopics(kit.prefix, deviceId);
  }

  /** Connect box `deviceId` (enrolled in `kit`) with a new signing key registered at the force. */
  static async connect(kit: ForceKit, deviceId: string, options: SimulatedBoxOptions = {}): Promise<SimulatedBox> {
    const key = generateKeyPair('ed25519');
    const fdb = openForceDb(kit.forceDir);
    try {
      new DeviceRegistry(fdb.db).register(deviceId, key.pk, Date.now());
    } finally {
      fdb.close();
    }
    const b = JSON.parse(readFileSync(kit.bundle(deviceId), 'utf8')) as { mqtt: { username: string; password: string; ca_pem: string } };
    const client = mqtt.connect(kit.broker.url, {
      protocolVersion: 5,
      clientId: b.mqtt.username,
      username: b.mqtt.username,
      password: b.mqtt.password,
      ca: b.mqtt.ca_pem,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      properties: { maximumPacketSize: MAX_PACKET_BYTES },
    });
    client.on('error', () => undefined);
    const box = new SimulatedBox(deviceId, client, key, kit, options);
    client.on('connect', () => box.connects++);
    client.on('message', (topic, payload) => box.onMessage(topic, payload));
    await withTimeout(new Promise<void>((resolve) => client.once('connect', () => resolve())), 15_000, `box ${deviceId} connect`);
    await withTimeout(client.subscribeAsync(box.topics.receipt(), { qos: 1 }), 10_000, `box ${deviceId} subscribe`);
    return box;
  }

  private onMessage(topic: string, payload: Buffer): void {
    if (topic !== this.topics.receipt()) return;
    try {
      const r = (JSON.parse(payload.toString()) as { receipt?: { envelope?: string; status?: string; missing?: unknown } }).receipt;
      if (!r?.envelope || !r.status) return;
      if (r.status === 'complete') this.completes.set(r.envelope, (this.completes.get(r.envelope) ?? 0) + 1);
      if (this.receipts.get(r.envelope)?.status === 'complete') return;
      if (r.status === 'missing' && this.options.resendMissing && Array.isArray(r.missing)) void this.resendChunks(r.envelope, r.missing.filter((i): i is number => Number.isInteger(i)));
      this.receipts.set(r.envelope, { status: r.status, atMs: performance.now() });
      if (r.status === 'complete') this.waiters.get(r.envelope)?.();
    } catch {
      /* not a receipt: ignored, as the box does */
    }
  }

  /**
   * Seal `plaintext` as the box's evidence of incident `incidentId` and publish the manifest and its chunks;
   * `publishedAtMs` is when the first publish began (performance.now()), sealing done.
   */
  async send(plaintext: Buffer, incidentId = newId()): Promise<{ id: string; publishedAtMs: number }> {
    const now = Date.now();
    const e = await sealEnvelope({ plaintext, device: this.key, deviceId: this.deviceId, incidentId, msgSeq: ++this.msgSeq, recipients: validRecipients(loadKeySet(this.kit.forceDir).keyset, now), clock: { synced: true, offset_ms: 0 }, now, chunkBytes: this.options.chunkBytes });
    const id = e.manifest.header.envelope_id;
    const messages = [{ topic: this.topics.envelopeManifest(id), payload: JSON.stringify(e.manifest) as Buffer | string }, ...e.chunks.map((c, i) => ({ topic: this.topics.envelopeChunk(id, i), payload: encodeChunkMessage(id, i, e.chunks.length, c) }))];
    this.sent.set(id, messages);
    const publishedAtMs = performance.now();
    await this.resend(id);
    return { id, publishedAtMs };
  }

  /** Publish an envelope sent before once more, whole, as the box does when no receipt came in time. */
  async resend(envelopeId: string): Promise<void> {
    for (const m of this.sent.get(envelopeId) ?? []) await this.client.publishAsync(m.topic, m.payload, { qos: 1 });
  }

  /** Publish again the chunks a `missing` receipt lists, as the box does. */
  private async resendChunks(envelopeId: string, indexes: number[]): Promise<void> {
    const sent = this.sent.get(envelopeId) ?? [];
    // the manifest is message 0, chunk i message i + 1; a publish that fails is left to the next receipt or resend
    for (const i of indexes) {
      const m = sent[i + 1];
      if (m) await this.client.publishAsync(m.topic, m.payload, { qos: 1 }).catch(() => undefined);
    }
  }

  /** How many `complete` receipts for `envelopeId` arrived. */
  completeReceipts(envelopeId: string): number {
    return this.completes.get(envelopeId) ?? 0;
  }

  /** Until the force's `complete` receipt for `envelopeId` arrives; the time it arrived (performance.now()). */
  async complete(envelopeId: string, timeoutMs: number): Promise<number> {
    const have = this.receipts.get(envelopeId);
    if (have?.status !== 'complete') {
      const arrived = new Promise<void>((resolve) => this.waiters.set(envelopeId, resolve));
      await withTimeout(arrived, timeoutMs, `the complete receipt of envelope ${envelopeId} from box ${this.deviceId}`).finally(() => this.waiters.delete(envelopeId));
    }
    return this.receipts.get(envelopeId)!.atMs;
  }

  /** A package of this box as its incidents make them: one subject (two noise JPEG crops, an embedding) and `padBytes` of context frame. */
  async samplePackage(dir: string, padBytes = 0): Promise<{ plaintext: Buffer; incidentId: string }> {
    const incidentId = newId();
    const folder = path.join(dir, incidentId);
    mkdirSync(path.join(folder, 'crops', 's0'), { recursive: true });
    mkdirSync(path.join(folder, 'embeddings'), { recursive: true });
    for (const n of [0, 1]) {
      const jpg = await sharp(randomBytes(64 * 64 * 3), { raw: { width: 64, height: 64, channels: 3 } }).jpeg({ quality: 80 }).toBuffer();
      writeFileSync(path.join(folder, 'crops', 's0', `${n}.jpg`), jpg);
    }
    const emb = Float32Array.from({ length: 128 }, () => Math.random() - 0.5);
    writeFileSync(path.join(folder, 'embeddings', 's0.f32'), Buffer.from(emb.buffer));
    if (padBytes) {
      mkdirSync(path.join(folder, 'context'), { recursive: true });
      writeFileSync(path.join(folder, 'context', 'frame.jpg'), randomBytes(padBytes));
    }
    const now = Date.now();
    const input = packageInputFromFolder(folder, { incidentId, deviceId: this.deviceId, store: 'Test Store', window: { start: now - 60_000, end: now }, embeddingModel: 'test-model', models: [], tools: {}, clock: { synced: true, offset_ms: 0, source: 'unknown' }, now });
    return { plaintext: buildPackage(input, this.key).plaintext, incidentId };
  }

  async close(): Promise<void> {
    await withTimeout(this.client.endAsync(), 3000, `box ${this.deviceId} disconnect`).catch(() => this.client.end(true));
  }
}
