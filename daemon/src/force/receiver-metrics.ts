import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, type Registry } from 'prom-client';
import { metricsRegistry, scrapeGauge } from '../https/metrics.js';
import { HindsightError } from '../util/errors.js';
import type { IntakeGate } from './intake-gate.js';

/** `host:port` with a loopback host: 127.x.x.x or [::1]. */
const LISTEN = /^(127(?:\.\d{1,3}){3}|\[::1\]):(\d{1,5})$/;

/** What a receiver's message was (by topic), and how the evidence intake ended. */
export type MessageKind = 'evidence' | 'fleet' | 'command' | 'config' | 'audit_head';

/**
 * A receiver's own figures (`hindsight-force receive`), served as Prometheus text on a loopback address
 * (intake.metrics_listen): what only the process knows: bytes in flight and the gate's pauses, messages by
 * kind, evidence outcomes, the broker link. Everything in the database (envelopes, rejections...) is in
 * the console's /metrics. Plain HTTP on loopback only, with no token: the figures hold no personal data
 * and no secret, and no other machine can reach them.
 */
export class ReceiverMetrics {
  readonly registry: Registry = metricsRegistry();
  readonly messages: Counter<'kind'>;
  readonly evidence: Counter<'outcome'>;
  private server: Server | undefined;

  constructor(d: { gate: () => IntakeGate | undefined; capBytes: number; connected: () => boolean }) {
    const r = this.registry;
    this.messages = new Counter({ name: 'hindsight_force_receiver_messages_total', help: 'Messages taken from the broker, by kind (evidence, fleet, command, config, audit_head).', labelNames: ['kind'], registers: [r] });
    this.evidence = new Counter({ name: 'hindsight_force_receiver_evidence_total', help: "Evidence messages by the intake's outcome (accepted, chunk, stored, duplicate, ignored, rejected, failed).", labelNames: ['outcome'], registers: [r] });
    scrapeGauge(r, 'hindsight_force_receiver_bytes_in_flight', 'Bytes of messages taken and not yet handled.', [], (g) => g.set(d.gate()?.inFlight ?? 0));
    scrapeGauge(r, 'hindsight_force_receiver_bytes_in_flight_cap', 'intake.max_bytes_in_flight: above it the receiver takes no more from the broker.', [], (g) => g.set(d.capBytes));
    scrapeGauge(r, 'hindsight_force_receiver_paused', '1 while the receiver takes nothing from the broker (its intake is full).', [], (g) => g.set(d.gate()?.paused ? 1 : 0));
    scrapeGauge(r, 'hindsight_force_receiver_pauses', 'Times the intake paused since the receiver started.', [], (g) => g.set(d.gate()?.stats.pauses ?? 0));
    scrapeGauge(r, 'hindsight_force_receiver_broker_connected', '1 while the receiver is connected to the broker.', [], (g) => g.set(d.connected() ? 1 : 0));
  }

  /** Serve GET /metrics on `listen` (`127.0.0.1:9464`; port 0 picks a free one); the address it listens on. */
  async listen(listen: string): Promise<string> {
    const m = LISTEN.exec(listen);
    if (!m || Number(m[2]) > 65_535) {
      throw new HindsightError(`intake.metrics_listen ${JSON.stringify(listen)} is not a loopback address and port`, {
        code: 'config',
        hint: 'give 127.0.0.1:PORT or [::1]:PORT (the figures are served without a token, so only to this machine), or leave it empty',
      });
    }
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics here\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType, 'cache-control': 'no-store' }).end(text),
        () => res.writeHead(500, { 'content-type': 'text/plain' }).end('the figures could not be read; see the log\n'),
      );
    });
    const host = m[1]!.replace(/^\[|\]$/g, '');
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new HindsightError(`the receiver's metrics cannot listen on ${listen}: ${err.message}`, { code: 'metrics_listen', hint: 'another program uses the port: set intake.metrics_listen to another (port 0 picks a free one)' })));
      server.listen(Number(m[2]), host, resolve);
    });
    this.server = server;
    const a = server.address() as AddressInfo;
    return `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
