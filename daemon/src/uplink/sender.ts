import type { Logger } from 'pino';
import { encodeChunkMessage } from '../crypto/envelope.js';
import type { MqttConnection } from '../protocol/mqtt.js';
import type { DeviceTopics } from '../protocol/topics.js';
import type { Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import type { Outbox, OutboxRow } from './outbox.js';

export interface SenderSettings {
  publishTimeoutMs: number;
  receiptTimeoutMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  inflight: number;
  /** How often the outbox is looked at when nothing wakes the sender (other processes may enqueue). */
  pollMs?: number;
  /**
   * Fault injection for tests only: return true to skip publishing that chunk (simulates a chunk lost
   * between box and force). Never set in production.
   */
  dropChunk?: (envelopeId: string, index: number, attempt: number) => boolean;
}

/**
 * Sends due envelopes from the outbox: the manifest, then the chunks (or only those a `missing` receipt
 * listed) with QoS 1 and a bounded number awaiting PUBACK. A failed send is retried with exponential
 * backoff and jitter; a sent envelope waits for its receipt and is sent again if none comes.
 */
export class EnvelopeSender {
  private stopped = true;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;

  constructor(
    private readonly outbox: Outbox,
    private readonly link: MqttConnection,
    private readonly topics: DeviceTopics,
    private readonly clock: Clock,
    private readonly settings: SenderSettings,
    private readonly log: Logger,
    private readonly random: () => number = Math.random,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop = this.run();
  }

  wake(): void {
    this.wakeUp?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        const row = this.link.connected ? this.outbox.nextDue(this.clock.now()) : undefined;
        if (row) {
          await this.send(row);
          continue;
        }
      } catch (err) {
        this.log.error({ err }, 'uplink sender: unexpected error; continuing');
      }
      await this.idle();
    }
  }

  private idle(): Promise<void> {
    const poll = this.settings.pollMs ?? 1000;
    const next = this.outbox.nextWake();
    const wait = next === undefined ? poll : Math.min(poll, Math.max(10, next - this.clock.now()));
    return new Promise((resolve) => {
      const timer = setTimeout(done, wait);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }

  backoffMs(attempts: number): number {
    const base = Math.min(this.settings.retryMaxMs, this.settings.retryMinMs * 2 ** Math.min(attempts, 20));
    return Math.round(base * (0.5 + this.random() * 0.5));
  }

  private async send(row: OutboxRow): Promise<void> {
    const id = row.envelopeId;
    const indices = row.resend ?? Array.from({ length: row.nChunks }, (_, i) => i);
    const timeout = this.settings.publishTimeoutMs;
    try {
      // The manifest goes every time: cheap, and a receiver that lost its state can start again.
      await this.link.publish(this.topics.envelopeManifest(id), JSON.stringify(row.manifest), timeout);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < indices.length && !this.stopped) {
          const i = indices[next++]!;
          if (this.settings.dropChunk?.(id, i, row.attempts)) continue;
          const data = this.outbox.chunk(id, i);
          if (!data) {
            // A receipt made it delivered meanwhile (its ciphertext is gone): nothing left to send.
            if (this.outbox.get(id)?.state === 'delivered') return;
            throw new Error(`chunk ${i} of ${id} is missing from the outbox`);
          }
          await this.link.publish(this.topics.envelopeChunk(id, i), encodeChunkMessage(id, i, row.nChunks, data), timeout);
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.settings.inflight, indices.length) }, worker));
      if (this.stopped || this.outbox.get(id)?.state !== 'pending') return;
      const now = this.clock.now();
      const due = now + this.settings.receiptTimeoutMs * 2 ** Math.min(row.attempts, 3);
      this.outbox.markSent(id, now, due, indices.length);
      this.log.info({ envelope: id, incident: row.incidentId, chunks: indices.length, of: row.nChunks, attempt: row.attempts + 1 }, 'envelope sent; waiting for the receipt');
    } catch (err) {
      const delay = this.backoffMs(row.attempts);
      this.outbox.scheduleRetry(id, this.clock.now() + delay, errorMessage(err));
      this.log.warn({ envelope: id, err: errorMessage(err), retryInMs: delay }, 'envelope send failed; will retry');
    }
  }
}
