import type { Logger } from 'pino';

/** How often at most a pause of the intake is logged at info (the others at debug). */
const PAUSE_LOG_EVERY_MS = 60_000;

export interface IntakeGateOptions {
  /** Bytes of messages taken from the broker and not yet handled above which the receiver takes no more. */
  capBytes: number;
  /** The connection's MQTT 5 Receive Maximum: how many unacknowledged messages the broker sends at most. */
  receiveMaximum: number;
  log: Logger;
  now: () => number;
}

/**
 * The receiver's bounded intake: bytes of messages taken from the broker and not yet handled (waiting in
 * the receiver's queue, or being reassembled and stored). Above the cap the connection takes nothing more
 * (see `admit`): further messages wait at the broker, unacknowledged, and none is dropped; at or below the
 * cap it takes them again.
 *
 * A paused connection also holds back the broker's acknowledgements of the receiver's own publishes
 * (receipts, commands), since they come on the same connection after the messages the broker sent first.
 * So when such a publish begins, the gate lets through up to `receiveMaximum` more messages over the cap:
 * at most that many unacknowledged messages can stand before the broker's acknowledgement, so the queue
 * never waits for an acknowledgement it is itself holding up, and a broker slow to acknowledge cannot make
 * the receiver take more than that.
 */
export class IntakeGate {
  private bytes = 0;
  private publishing = 0;
  private allowance = 0;
  private resume: (() => void) | undefined;
  private pausedAt: number | undefined;
  private pauseLoggedAt = -Infinity;
  private loud = false;
  /** Since start: pauses, the time paused in all, and the most bytes in flight at once. */
  readonly stats = { pauses: 0, pausedMs: 0, peakBytes: 0 };

  constructor(private readonly o: IntakeGateOptions) {}

  /** Bytes taken and not yet handled. */
  get inFlight(): number {
    return this.bytes;
  }

  get paused(): boolean {
    return this.resume !== undefined;
  }

  /** A message was taken from the broker: its bytes count until `release`. */
  take(bytes: number): void {
    this.bytes += bytes;
    if (this.bytes > this.stats.peakBytes) this.stats.peakBytes = this.bytes;
  }

  /** A message taken earlier is handled (stored, rejected or failed). */
  release(bytes: number): void {
    this.bytes = Math.max(0, this.bytes - bytes);
    if (this.bytes <= this.o.capBytes) this.open();
  }

  /**
   * The connection's admission check after each message: undefined to go on, or a promise that settles when
   * the connection may take messages again.
   */
  admit(): Promise<void> | undefined {
    if (this.bytes <= this.o.capBytes) return undefined;
    if (this.publishing > 0 && this.allowance > 0) {
      this.allowance--;
      return undefined;
    }
    // The connection asks again while a message is held only after it was lost and made anew: hold this
    // one instead (the connection does not acknowledge a message it held on the lost one).
    const stale = this.resume;
    if (stale) {
      this.resume = undefined;
      stale();
      return new Promise((resolve) => (this.resume = resolve));
    }
    const now = this.o.now();
    this.pausedAt = now;
    this.stats.pauses++;
    this.loud = now - this.pauseLoggedAt >= PAUSE_LOG_EVERY_MS;
    const line = { inFlight: this.bytes, cap: this.o.capBytes, pauses: this.stats.pauses };
    if (this.loud) {
      this.pauseLoggedAt = now;
      this.o.log.info(line, 'intake paused: more bytes in flight than the cap; messages wait at the broker');
    } else {
      this.o.log.debug(line, 'intake paused');
    }
    return new Promise((resolve) => (this.resume = resolve));
  }

  /**
   * Run one of the receiver's publishes: the gate stays open until the broker acknowledged it (see the
   * class comment).
   */
  async whilePublishing<T>(publish: () => Promise<T>): Promise<T> {
    this.publishing++;
    this.allowance = this.o.receiveMaximum;
    this.open();
    try {
      return await publish();
    } finally {
      this.publishing--;
    }
  }

  private open(): void {
    const resume = this.resume;
    if (!resume) return;
    this.resume = undefined;
    const ms = this.o.now() - (this.pausedAt ?? this.o.now());
    this.stats.pausedMs += ms;
    const line = { inFlight: this.bytes, cap: this.o.capBytes, pausedMs: ms, pausedMsInAll: this.stats.pausedMs };
    if (this.loud) this.o.log.info(line, 'intake resumed');
    else this.o.log.debug(line, 'intake resumed');
    resume();
  }
}
