import type { Logger } from 'pino';
import type { EventBus } from '../kernel/events.js';
import { errorMessage } from '../util/errors.js';

/** At most one health document on change per this long: a camera flapping, or alarms coming and going, cannot flood the link. */
export const HEALTH_CHANGE_MIN_GAP_MS = 5000;
/** From the first change to the document: the rest of a burst (every camera of a switch that went down) goes in the same one. */
export const HEALTH_CHANGE_SETTLE_MS = 1000;
/** How often the alarms are looked at (a cheap read: see app/health.ts healthAlarms). */
export const HEALTH_ALARM_WATCH_MS = 5000;
/** The most reasons one document's log line names; the others are counted. */
const MAX_REASONS = 10;

export interface HealthOnChangeOptions {
  bus: EventBus;
  /** The alarms the health document would list now; without it only the cameras' states are watched. */
  alarms?: () => readonly { kind: string; subject: string }[];
  /** Build and send the health document; false when the link is down (the document goes at the connect). */
  publish: () => Promise<boolean>;
  log: Logger;
  minGapMs?: number;
  settleMs?: number;
  watchMs?: number;
  /** Monotonic milliseconds. */
  now?: () => number;
}

/**
 * Sends the health document when something an admin cares about changes, between the periodic ones: a
 * camera's recording state (the recorder's `camera.state`), or the set of active alarms (looked at every
 * HEALTH_ALARM_WATCH_MS). Changes are coalesced: the first waits HEALTH_CHANGE_SETTLE_MS for the rest of
 * its burst, and documents on change are at least HEALTH_CHANGE_MIN_GAP_MS apart. A document sent for any
 * other reason (the interval, a connect) carries what changed before it, and the pending one is dropped.
 */
export class HealthOnChange {
  private readonly pending = new Set<string>();
  private more = 0;
  private timer: NodeJS.Timeout | undefined;
  private watch: NodeJS.Timeout | undefined;
  private lastSentAt = -Infinity;
  private sending = false;
  private stopped = false;
  private alarmKeys: Set<string> | undefined;
  private readonly off: (() => void)[] = [];
  private readonly minGapMs: number;
  private readonly settleMs: number;
  private readonly now: () => number;

  constructor(private readonly o: HealthOnChangeOptions) {
    this.minGapMs = o.minGapMs ?? HEALTH_CHANGE_MIN_GAP_MS;
    this.settleMs = o.settleMs ?? HEALTH_CHANGE_SETTLE_MS;
    this.now = o.now ?? (() => performance.now());
  }

  start(): void {
    this.off.push(this.o.bus.on('camera.state', (e) => this.changed(`camera ${e.cameraId} ${e.state}`)));
    if (this.o.alarms) {
      // what is active now went (or goes, at the connect) in the document already: only changes count
      this.alarmKeys = this.readAlarms();
      this.watch = setInterval(() => this.checkAlarms(), this.o.watchMs ?? HEALTH_ALARM_WATCH_MS);
      this.watch.unref();
    }
  }

  /** Something the document shows changed: send it soon (coalesced, rate-limited). */
  changed(reason: string): void {
    if (this.stopped) return;
    if (this.pending.has(reason) || this.pending.size < MAX_REASONS) this.pending.add(reason);
    else this.more++;
    this.schedule();
  }

  /** A document is being built now (for any reason): what changed until now is in it. */
  sent(): void {
    this.pending.clear();
    this.more = 0;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.watch);
    this.timer = this.watch = undefined;
    for (const off of this.off.splice(0)) off();
    this.sent();
  }

  private schedule(): void {
    if (this.timer || this.stopped) return;
    // the gap counts from the last document on change; a clock that went back never delays it past the gap
    const wait = Math.min(this.minGapMs, Math.max(this.settleMs, this.lastSentAt + this.minGapMs - this.now()));
    this.timer = setTimeout(() => void this.flush(), wait);
    this.timer.unref();
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    // one document at a time: the one being sent reschedules what came meanwhile when it is done
    if (this.sending || this.stopped || this.pending.size === 0) return;
    const reasons = [...this.pending];
    const more = this.more;
    this.sent();
    this.sending = true;
    this.lastSentAt = this.now();
    // when the document was started: the rate limit counts from there (building one can take a second or more)
    const started = new Date(this.lastSentAt).toISOString();
    try {
      const sent = await this.o.publish();
      if (sent) this.o.log.debug({ reasons, more_reasons: more || undefined, started }, 'health changed: health document sent');
      else this.o.log.debug({ reasons, more_reasons: more || undefined, started }, 'health changed while the link is down: the document goes at the connect');
    } catch (err) {
      this.o.log.debug({ reasons, err: errorMessage(err) }, 'health changed, but the document was not sent; the next one carries the change');
    } finally {
      this.sending = false;
      if (this.pending.size) this.schedule();
    }
  }

  private checkAlarms(): void {
    const now = this.readAlarms();
    if (!now || !this.alarmKeys) {
      this.alarmKeys ??= now;
      return;
    }
    const raised = [...now].filter((k) => !this.alarmKeys!.has(k));
    const cleared = [...this.alarmKeys].filter((k) => !now.has(k));
    this.alarmKeys = now;
    for (const k of raised) this.changed(`alarm raised: ${k}`);
    for (const k of cleared) this.changed(`alarm cleared: ${k}`);
  }

  /** The active alarms' kind and subject; undefined when they cannot be read now (the database is busy): looked at again next time. */
  private readAlarms(): Set<string> | undefined {
    try {
      return new Set(this.o.alarms!().map((a) => `${a.kind} ${a.subject}`));
    } catch (err) {
      this.o.log.debug({ err: errorMessage(err) }, 'cannot read the alarms now');
      return undefined;
    }
  }
}
