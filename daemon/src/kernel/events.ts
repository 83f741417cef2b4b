import { EventEmitter } from 'node:events';
import type { RecorderState } from '../db/repos/camera-status.js';
import type { Segment } from '../db/repos/segments.js';

/**
 * Events between services. Each capability adds its events here. Events are for reacting quickly
 * (wake a worker, refresh a status); durable work is always driven from SQLite state so a crash at
 * any point resumes from the database, not from a lost event.
 */
export interface EventMap {
  'daemon.started': { bootId: string };
  'daemon.stopping': { reason: string };
  /** A force command asked for a restart: the process stops cleanly and its service manager starts it again. */
  'daemon.restart_requested': { reason: string };
  /**
   * A force `wipe` command was carried out and answered: the process stops, then destroys the box's keys,
   * enrollment and data (fleet/wipe.ts), and its service manager starts it again, not enrolled.
   */
  'daemon.wipe_requested': { reason: string };
  /** Recorder: a segment was closed and committed to the index (a wake-up: re-read the index, the source of truth). */
  'segment.closed': { cameraId: string; segment: Segment };
  /** Recorder: a camera's recording state changed. */
  'camera.state': { cameraId: string; state: RecorderState; reason: string | null };
  'incident.logged': { incidentId: string };
  'incident.changed': { incidentId: string; state: string };
  /** A sealed envelope was committed to the outbox (wakes the sender). */
  'envelope.queued': { envelopeId: string; incidentId: string };
  /** The force's signed `complete` receipt arrived; the envelope is delivered. */
  'envelope.delivered': { envelopeId: string; incidentId: string };
}

export class EventBus {
  private readonly emitter = new EventEmitter({ captureRejections: false });

  constructor() {
    this.emitter.setMaxListeners(100);
  }

  emit<K extends keyof EventMap>(event: K, payload: EventMap[K]): void {
    this.emitter.emit(event, payload);
  }

  /** Subscribe; returns the function that unsubscribes (call it in the service's stop()). */
  on<K extends keyof EventMap>(event: K, listener: (payload: EventMap[K]) => void): () => void {
    this.emitter.on(event, listener);
    return () => this.emitter.off(event, listener);
  }

  listenerCount(event: keyof EventMap): number {
    return this.emitter.listenerCount(event);
  }
}
