import mqtt, { type IClientOptions, type IClientPublishOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { HindsightError } from '../util/errors.js';
import { assertMqttsUrl } from './broker-url.js';

/**
 * One MQTT 5 connection over TLS, as both the box and the force receiver use it: persistent session,
 * resubscribe and "on connect" work after every (re)connect, and every publish under a timeout
 * (mqtt.js never settles a publish when the broker drops the connection, e.g. for an oversized packet).
 */

export interface ConnectionOptions {
  url: string;
  ca: Buffer | string;
  username: string;
  password: string;
  clientId: string;
  /** false: the broker keeps the session (subscriptions, queued QoS 1) while we are away. */
  clean: boolean;
  sessionExpiryS: number;
  keepaliveS: number;
  reconnectMs: number;
  connectTimeoutMs?: number;
  will?: { topic: string; payload: string; retain: boolean };
  subscriptions: { topic: string; qos: 0 | 1 }[];
  log: Logger;
  /**
   * Larger payloads are refused here: the broker would drop the connection for them (message_size_limit),
   * and mqtt.js would send the same packet again after every reconnect, wedging the link.
   */
  maxPayloadBytes?: number;
  /**
   * MQTT 5 Receive Maximum: the broker sends at most this many QoS 1 messages that this client has not
   * acknowledged yet (default: the MQTT 5 maximum, 65535).
   */
  receiveMaximum?: number;
  /**
   * Called after each message went to the handlers. When it returns a promise, the client takes nothing
   * more from the connection and holds that message's acknowledgement until the promise settles: the broker
   * keeps what follows (at most `receiveMaximum` messages are unacknowledged), nothing is dropped.
   */
  admission?: () => Promise<void> | undefined;
}

/** The broker kit's `message_size_limit`: the largest payload the broker takes (a chunk is <= 64 KiB + 24). */
export const BROKER_MESSAGE_SIZE_LIMIT = 256 * 1024;

/**
 * MQTT 5 Maximum Packet Size every client of the project announces: the broker's payload limit plus room for
 * the fixed header, topic and properties. The broker sends no larger packet (it drops such a message for
 * that client), and mqtt.js closes a connection that delivers one anyway.
 */
export const MAX_PACKET_BYTES = BROKER_MESSAGE_SIZE_LIMIT + 4096;

export const DEFAULT_MAX_PAYLOAD = BROKER_MESSAGE_SIZE_LIMIT - 512;

export class PublishTimeoutError extends HindsightError {
  constructor(topic: string, ms: number) {
    super(`publish to ${topic} did not complete within ${ms} ms`, { code: 'publish_timeout' });
  }
}

/** The MQTT 5 request/response properties of a message (commands carry both). */
export interface MessageProperties {
  responseTopic?: string;
  correlationData?: Buffer;
}

export type MessageHandler = (topic: string, payload: Buffer, properties: MessageProperties) => void;

export class MqttConnection {
  private client: MqttClient | undefined;
  private readonly connectHooks: (() => Promise<void> | void)[] = [];
  private readonly messageHandlers: MessageHandler[] = [];
  private stopped = false;
  private lastError = '';

  constructor(private readonly options: ConnectionOptions) {}

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  get error(): string {
    return this.lastError;
  }

  /** Run after every (re)connect, once subscriptions are in place (publish retained state, wake senders). */
  onConnect(hook: () => Promise<void> | void): void {
    this.connectHooks.push(hook);
  }

  onMessage(handler: MessageHandler): void {
    this.messageHandlers.push(handler);
  }

  start(): void {
    const o = this.options;
    assertMqttsUrl(o.url, 'the broker URL');
    const opts: IClientOptions = {
      protocolVersion: 5,
      clientId: o.clientId,
      username: o.username,
      password: o.password,
      ca: o.ca,
      rejectUnauthorized: true,
      clean: o.clean,
      keepalive: o.keepaliveS,
      reconnectPeriod: o.reconnectMs,
      connectTimeout: o.connectTimeoutMs ?? 10_000,
      resubscribe: false,
      properties: { sessionExpiryInterval: o.sessionExpiryS, maximumPacketSize: MAX_PACKET_BYTES, ...(o.receiveMaximum ? { receiveMaximum: o.receiveMaximum } : {}) },
      ...(o.will ? { will: { topic: o.will.topic, payload: Buffer.from(o.will.payload), qos: 1 as const, retain: o.will.retain } } : {}),
    };
    const client = mqtt.connect(o.url, opts);
    this.client = client;
    // mqtt.js sends a message's acknowledgement, and reads the next packet, when this calls back
    const admission = o.admission;
    if (admission) {
      // A connection lost while a message was held: its acknowledgement must not go out on the next
      // connection, where its packet id names another message (Mosquitto drops the client for a protocol
      // error); the broker sends the message again there instead.
      let connection = 0;
      client.on('close', () => connection++);
      client.handleMessage = (_packet, callback) => {
        const wait = admission();
        if (!wait) return callback();
        const held = connection;
        const go = (): void => {
          if (held === connection) callback();
        };
        wait.then(go, (err: unknown) => {
          o.log.error({ err }, 'mqtt admission failed; taking messages again');
          go();
        });
      };
    }
    client.on('connect', (ack) => {
      this.lastError = '';
      o.log.info({ broker: redactUrl(o.url), sessionPresent: ack.sessionPresent }, 'mqtt connected');
      void this.afterConnect();
    });
    client.on('message', (topic, payload, packet) => {
      const p = packet.properties;
      const properties: MessageProperties = { responseTopic: p?.responseTopic, correlationData: p?.correlationData };
      for (const h of this.messageHandlers) {
        try {
          h(topic, payload, properties);
        } catch (err) {
          o.log.error({ err, topic }, 'mqtt message handler failed');
        }
      }
    });
    client.on('error', (err) => {
      const why = mqttErrorText(err);
      if (why !== this.lastError) o.log.warn({ err: why, broker: redactUrl(o.url) }, 'mqtt error');
      this.lastError = why;
    });
    client.on('offline', () => o.log.warn({ broker: redactUrl(o.url) }, 'mqtt offline; reconnecting'));
  }

  private async afterConnect(): Promise<void> {
    const client = this.client;
    if (!client) return;
    try {
      if (this.options.subscriptions.length) {
        const granted = await withTimeout(client.subscribeAsync(this.options.subscriptions.map((s) => s.topic), { qos: 1 }), 15_000, 'subscribe');
        for (const g of granted) {
          if (g.qos > 1) this.options.log.error({ topic: g.topic, reason: g.qos }, 'mqtt subscription refused by the broker (check the ACL)');
        }
      }
      for (const hook of this.connectHooks) await hook();
    } catch (err) {
      // Subscriptions or retained state are missing on this connection: drop it so the next connect redoes them.
      this.options.log.warn({ err: (err as Error).message }, 'mqtt post-connect work failed; reconnecting to redo it');
      if (!this.stopped) client.stream?.destroy();
    }
  }

  /** Publish with QoS 1 (default) and a deadline; rejects on timeout or when not connected. */
  async publish(topic: string, payload: Buffer | string, timeoutMs: number, options: IClientPublishOptions = {}): Promise<void> {
    const client = this.client;
    if (!client || !client.connected) throw new HindsightError('not connected to the broker', { code: 'not_connected' });
    const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    const max = this.options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD;
    if (size > max) throw new HindsightError(`payload of ${size} bytes for ${topic} exceeds the ${max}-byte limit`, { code: 'payload_too_large' });
    await withTimeout(client.publishAsync(topic, payload, { qos: 1, ...options }), timeoutMs, `publish to ${topic}`);
  }

  async stop(finalPublish?: { topic: string; payload: string; retain: boolean }): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const client = this.client;
    if (!client) return;
    if (finalPublish && client.connected) {
      await this.publish(finalPublish.topic, finalPublish.payload, 2000, { retain: finalPublish.retain }).catch(() => undefined);
    }
    await withTimeout(client.endAsync(false), 3000, 'disconnect').catch(() => client.end(true));
    client.removeAllListeners();
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(what.startsWith('publish to ') ? new PublishTimeoutError(what.slice(11), ms) : new HindsightError(`${what} did not complete within ${ms} ms`, { code: 'timeout' })), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/**
 * What an MQTT client error says, never empty: a connection that cannot be made comes as an AggregateError
 * with no message (one error per address tried: seen as a bare "mqtt error" for a broker that had moved),
 * and a refused CONNACK carries a reason code.
 */
export function mqttErrorText(err: Error & { code?: unknown; errors?: unknown }): string {
  if (err.message) return err.message;
  if (Array.isArray(err.errors)) {
    const inner = [...new Set((err.errors as Error[]).map((e) => e?.message).filter((m): m is string => !!m))];
    if (inner.length) return inner.join('; ');
  }
  if (typeof err.code === 'string') return err.code;
  if (typeof err.code === 'number') return `connection refused (reason code ${err.code})`;
  return err.name || 'unknown error';
}
