import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { Db } from '../db/db.js';
import { MetaRepo } from '../db/repos/meta.js';
import type { Service } from '../kernel/service.js';
import { errorMessage } from '../util/errors.js';

/** Bounds of a healthy daemon, between two checks. */
export interface LivenessLimits {
  /** Longest the event loop may have been blocked at once (a synchronous step that never ends). */
  maxLoopDelayMs: number;
  /** Largest share of the time the main thread may have been busy (a loop that only turns)... */
  maxLoopUtilization: number;
  /** ...over a window of at least this long (a short burst of work is not a spin). */
  minUtilizationWindowMs: number;
}

export const DEFAULT_LIVENESS_LIMITS: LivenessLimits = { maxLoopDelayMs: 10_000, maxLoopUtilization: 0.98, minUtilizationWindowMs: 5000 };

/** How often the event loop's lateness is sampled. */
const PROBE_MS = 100;

/** Where the watchdog writes, to know the database still takes writes. */
const WATCHDOG_KEY = 'watchdog.checked_utc';

/**
 * Is the daemon really healthy? What systemd's watchdog is fed on (app/systemd.ts): the event loop answers
 * and is not spinning, the database takes a write, and every service with a liveness check (the recorder's
 * camera loop, the incident worker's passes) says it is turning. Each check covers the time since the
 * previous one; `check` answers the reasons it is not healthy (none: healthy).
 */
export class Liveness {
  private readonly probe: NodeJS.Timeout;
  private expected = performance.now() + PROBE_MS;
  /** The longest the probe came late since the last check: how long the loop was blocked at once. */
  private worstLateMs = 0;
  private utilization: EventLoopUtilization;
  private utilizationSince = performance.now();

  constructor(
    private readonly d: { db: Db; services: () => readonly Service[]; now: () => number; limits?: Partial<LivenessLimits> },
  ) {
    this.probe = setInterval(() => {
      const now = performance.now();
      this.worstLateMs = Math.max(this.worstLateMs, now - this.expected);
      this.expected = now + PROBE_MS;
    }, PROBE_MS);
    this.probe.unref();
    this.utilization = performance.eventLoopUtilization();
  }

  check(): string[] {
    const limits = { ...DEFAULT_LIVENESS_LIMITS, ...this.d.limits };
    const reasons: string[] = [];
    // the probe that is due now counts too (a check right after a long block)
    const blockedMs = Math.max(this.worstLateMs, performance.now() - this.expected);
    this.worstLateMs = 0;
    if (blockedMs > limits.maxLoopDelayMs) reasons.push(`the event loop was blocked for ${Math.round(blockedMs)} ms at once (limit ${limits.maxLoopDelayMs} ms)`);
    const at = performance.now();
    const windowMs = at - this.utilizationSince;
    if (windowMs >= limits.minUtilizationWindowMs) {
      const now = performance.eventLoopUtilization();
      const busy = performance.eventLoopUtilization(now, this.utilization).utilization;
      this.utilization = now;
      this.utilizationSince = at;
      if (busy > limits.maxLoopUtilization) reasons.push(`the event loop was busy ${Math.round(busy * 100)} % of the last ${(windowMs / 1000).toFixed(1)} s (it is spinning)`);
    }
    try {
      new MetaRepo(this.d.db).set(WATCHDOG_KEY, String(this.d.now()));
    } catch (err) {
      reasons.push(`the database takes no write: ${errorMessage(err)}`);
    }
    for (const s of this.d.services()) {
      let why: string | undefined;
      try {
        why = s.liveness?.();
      } catch (err) {
        why = `its check failed: ${errorMessage(err)}`;
      }
      if (why) reasons.push(`${s.name}: ${why}`);
    }
    return reasons;
  }

  stop(): void {
    clearInterval(this.probe);
  }
}

/** The latest health check: what was wrong (nothing: healthy) and when it ran. */
export interface HealthVerdict {
  problems: string[];
  checkedAtMs: number;
}

/**
 * Runs the health check on a timer (half systemd's watchdog interval under systemd, else every 15 s) and
 * keeps its verdict: systemd's watchdog is fed on each one (`onVerdict`), and `/healthz` answers from the
 * latest, so a probe never shortens the windows the check measures.
 */
export class HealthCheckService implements Service {
  readonly name = 'health';
  private timer: NodeJS.Timeout | undefined;
  private last: HealthVerdict | undefined;

  constructor(
    private readonly d: { liveness: Liveness; intervalMs: number; now: () => number; onVerdict: (v: HealthVerdict) => void | Promise<void> },
  ) {}

  start(): void {
    this.timer = setInterval(() => this.run(), this.d.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.d.liveness.stop();
  }

  /**
   * Healthy: the latest check found nothing wrong and is recent (a check overdue by two intervals means
   * the event loop could not run it).
   */
  current(): { healthy: boolean; problems: string[]; checkedAtMs: number | undefined } {
    const last = this.last;
    if (!last) return { healthy: true, problems: [], checkedAtMs: undefined };
    const overdueMs = this.d.now() - last.checkedAtMs - 2 * this.d.intervalMs;
    const problems = overdueMs > 0 ? [...last.problems, `the health check is ${Math.round(overdueMs / 1000)} s overdue`] : last.problems;
    return { healthy: problems.length === 0, problems, checkedAtMs: last.checkedAtMs };
  }

  private run(): void {
    const verdict = { problems: this.d.liveness.check(), checkedAtMs: this.d.now() };
    this.last = verdict;
    void this.d.onVerdict(verdict);
  }
}
