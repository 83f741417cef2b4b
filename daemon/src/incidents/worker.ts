import type { AuditActor } from '../audit/log.js';
import type { AppContext } from '../kernel/context.js';
import type { Service } from '../kernel/service.js';
import type { IncidentsRepo } from '../db/repos/incidents.js';
import type { MasterHoldsRepo } from '../db/repos/master-holds.js';
import type { BufferIndex } from './buffer-port.js';
import type { CloseStep } from './close.js';
import { classifyFailure, IncidentStepError } from './failure.js';
import { WAIT_EVENTS, type Incident, type WaitEvent } from './model.js';
import { describeWait, type IncidentStateMachine } from './state.js';
import type { IncidentStep, StepName, StepTable } from './step.js';

export type { StepName } from './step.js';

const SYSTEM: AuditActor = { type: 'system', id: 'incident-worker' };
/** The worker looks at the database every second, and sooner when woken, but never more often than this. */
const TICK_MS = 1000;
const MIN_TICK_GAP_MS = 100;
/** A pass (or the time since the last one) longer than this: the worker is stuck (the watchdog says so). */
const PASS_STUCK_MS = 120_000;
/** The same error of a whole pass is logged at most this often. */
const PASS_ERROR_LOG_MS = 60_000;
const DAY_MS = 86_400_000;

/** The states the worker moves on by itself (a failed incident waits: see `dueRetries` and `waitingFor`). */
const ACTIVE_STATES = ['logged', 'waiting', 'extracting', 'analysing', 'sealed', 'delivered'] as const;

function groupByState(incidents: Incident[]): (state: (typeof ACTIVE_STATES)[number]) => Incident[] {
  const groups = new Map<string, Incident[]>();
  for (const i of incidents) {
    const g = groups.get(i.state);
    if (g) g.push(i);
    else groups.set(i.state, [i]);
  }
  return (state) => groups.get(state) ?? [];
}

/** Tells whether what a failed incident waits for has come (checked only after a matching event). */
export interface WaitReadiness {
  ready(event: WaitEvent): boolean;
}

/** Tells whether the uplink has started sending an incident's sealed envelope. */
export interface DeliveryTracker {
  isSending(incidentId: string): boolean;
}

export interface WorkerDeps {
  /** Config (its `incidents` section), the log, time, and the bus the worker wakes on. */
  ctx: Pick<AppContext, 'config' | 'log' | 'clock' | 'bus'>;
  repo: IncidentsRepo;
  /** Investigators' holds on master clips (kept past their retention until a hold ends). */
  holds: Pick<MasterHoldsRepo, 'until'>;
  machine: IncidentStateMachine;
  /** Tells whether the cameras have footage up to a window's end. */
  buffer: BufferIndex;
  /** Ends an incident whose masters were kept long enough after delivery. */
  closer: CloseStep;
}

/**
 * What the worker drives and asks, read at every pass: the step of each state, and the uplink's answers
 * (without them, failed incidents waiting for an event are not resumed and sealed ones stay `sealed`).
 */
export interface WorkerLinks {
  steps: StepTable;
  readiness?: WaitReadiness;
  delivery?: DeliveryTracker;
}

export interface WorkerStats {
  /** Passes over the database since start. */
  ticks: number;
  /** Time spent inside passes (not in the steps' child processes), ms. */
  busyMs: number;
  startedAtMs: number;
}

/**
 * Schedules incidents from what SQLite says, so a restart at any point resumes: logged -> waiting (window
 * still open) -> extracting -> analysing -> sealed -> sending -> delivered -> closed when the masters'
 * retention ends. It only schedules: the work of a state is its step (extract.ts, analyse-and-seal.ts,
 * close.ts), and `delivered` is recorded by deliver.ts inside the uplink's delivery transaction. A failed incident is never simply due: it waits for its next
 * attempt at a stated time, for an event (enrollment, outbox space: resumed when one comes, no attempt
 * used), or for a person. Wakes every second and on events, at most every 100 ms.
 */
export class IncidentWorker implements Service {
  readonly name = 'incidents';
  private timer: NodeJS.Timeout | undefined;
  private wakeTimer: NodeJS.Timeout | undefined;
  private lastTickAt = 0;
  private readonly running = new Map<string, Promise<void>>();
  private readonly abort = new AbortController();
  private unsubscribe: (() => void)[] = [];
  private ticking = false;
  private readonly ctx: WorkerDeps['ctx'];
  private readonly repo: IncidentsRepo;
  private readonly holds: Pick<MasterHoldsRepo, 'until'>;
  private readonly machine: IncidentStateMachine;
  /** Events seen since the last pass: the waits they may end are checked once each. */
  private readonly events = new Set<WaitEvent>(WAIT_EVENTS);
  private warnedNoStage = false;
  private lastPassError = { message: '', at: -Infinity };
  private readonly counters: WorkerStats = { ticks: 0, busyMs: 0, startedAtMs: 0 };

  constructor(
    private readonly d: WorkerDeps,
    private readonly links: WorkerLinks,
  ) {
    this.ctx = d.ctx;
    this.repo = d.repo;
    this.holds = d.holds;
    this.machine = d.machine;
  }

  /** Something an incident may wait for has happened: check those incidents at the next pass. */
  notify(event: WaitEvent): void {
    this.events.add(event);
    this.wake();
  }

  stats(): WorkerStats {
    return { ...this.counters };
  }

  /** What the busy share of the passes was measured from at the last liveness check. */
  private livenessMark = { at: performance.now(), busyMs: 0 };

  /**
   * The passes turn (one at least every TICK_MS), none is stuck past PASS_STUCK_MS, and they do not take
   * nearly all the time (a worker that only loops). Extraction and analysis run beside the passes, not in them.
   */
  liveness(): string | undefined {
    const now = performance.now();
    const mark = this.livenessMark;
    this.livenessMark = { at: now, busyMs: this.counters.busyMs };
    if (this.ticking && now - this.lastTickAt > PASS_STUCK_MS) return `an incident pass has been running for ${Math.round((now - this.lastTickAt) / 1000)} s`;
    if (!this.ticking && now - this.lastTickAt > PASS_STUCK_MS) return `no incident pass for ${Math.round((now - this.lastTickAt) / 1000)} s`;
    const window = now - mark.at;
    const busy = window > 0 ? (this.counters.busyMs - mark.busyMs) / window : 0;
    if (window >= 5000 && busy > 0.9) return `incident passes took ${Math.round(busy * 100)} % of the last ${Math.round(window / 1000)} s`;
    return undefined;
  }

  async start(): Promise<void> {
    this.counters.startedAtMs = this.ctx.clock.now();
    const wake = (): void => this.wake();
    this.unsubscribe = [
      this.ctx.bus.on('incident.logged', wake),
      this.ctx.bus.on('incident.changed', wake),
      this.ctx.bus.on('segment.closed', wake),
      this.ctx.bus.on('envelope.delivered', () => this.notify('outbox_space')),
    ];
    this.timer = setInterval(() => void this.tick(), TICK_MS);
    const open = this.repo.countInStates(['logged', 'waiting', 'extracting', 'analysing']);
    if (open) this.ctx.log.info({ service: this.name, open }, 'resuming unfinished incidents');
    const failed = this.repo.list({ states: ['failed'], limit: 1000 });
    for (const i of failed) this.ctx.log.warn({ service: this.name, incident: i.id, step: i.failedState, reason: i.failure, waits_for: i.wait && describeWait(i.wait) }, `incident ${i.id} is failed: ${i.failure}`);
    void this.tick();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    clearTimeout(this.wakeTimer);
    this.unsubscribe.forEach((u) => u());
    this.abort.abort(new Error('daemon stopping'));
    await this.idle();
  }

  /** Resolves when every step started so far has finished (for tests and stop). */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running.values()]);
  }

  /** Run a pass soon, but never sooner than MIN_TICK_GAP_MS after the last one: no tight loop is possible. */
  private wake(): void {
    if (this.wakeTimer || this.abort.signal.aborted) return;
    const wait = Math.max(0, this.lastTickAt + MIN_TICK_GAP_MS - performance.now());
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      void this.tick();
    }, wait);
    this.wakeTimer.unref();
  }

  /** One pass over every incident that has something to do. */
  async tick(): Promise<void> {
    if (this.ticking || this.abort.signal.aborted) return;
    this.ticking = true;
    const t0 = performance.now();
    this.lastTickAt = t0;
    this.counters.ticks += 1;
    try {
      const now = this.ctx.clock.now();
      for (const i of this.repo.dueRetries(now)) this.resume(i, `automatic retry after attempt ${i.attempts}`);
      this.resumeAfterEvents();
      // one read of everything in progress per pass, grouped by state (oldest first within each)
      const by = groupByState(this.repo.inStates(ACTIVE_STATES));
      for (const i of [...by('logged'), ...by('waiting')]) this.decideWaiting(i, now);
      this.launchSteps(by('extracting'), by('analysing'));
      const delivery = this.links.delivery;
      if (delivery) {
        for (const i of by('sealed')) if (delivery.isSending(i.id)) this.machine.transition(i.id, 'sending', { actor: SYSTEM });
      }
      const retentionMs = this.ctx.config.incidents.master_retention_days * DAY_MS;
      for (const i of by('delivered')) {
        if (now - i.updatedAtMs < retentionMs) continue;
        // an investigator's hold (the force's hold_incident) keeps the masters until it ends
        const held = this.holds.until(i.id);
        if (held !== undefined && now < held) continue;
        await this.d.closer.run(i);
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (message !== this.lastPassError.message || performance.now() - this.lastPassError.at > PASS_ERROR_LOG_MS) {
        this.lastPassError = { message, at: performance.now() };
        this.ctx.log.error({ service: this.name, err }, 'incident pass failed; trying again in a second');
      }
    } finally {
      this.ticking = false;
      this.counters.busyMs += performance.now() - t0;
    }
  }

  private resume(i: Incident, reason: string): void {
    this.machine.transition(i.id, i.failedState as Exclude<typeof i.state, 'failed'>, { actor: SYSTEM, reason });
    this.ctx.log.info({ service: this.name, incident: i.id, step: i.failedState }, `incident ${i.id}: ${reason}`);
  }

  private resumeAfterEvents(): void {
    const readiness = this.links.readiness;
    if (!readiness || this.events.size === 0) return;
    const seen = [...this.events];
    this.events.clear();
    for (const event of seen) {
      const waiting = this.repo.waitingFor(event);
      if (waiting.length && readiness.ready(event)) for (const i of waiting) this.resume(i, `resumed: ${event}`);
    }
  }

  private launchSteps(toExtract: Incident[], toAnalyse: Incident[]): void {
    const parallel = this.ctx.config.incidents.parallel_extractions;
    const extracting = this.links.steps.extracting;
    if (extracting) {
      for (const i of toExtract) {
        if (this.runningCount('extracting') >= parallel) break;
        this.launch('extracting', i, extracting);
      }
    }
    const analysing = this.links.steps.analysing;
    if (analysing) {
      for (const i of toAnalyse) {
        if (this.runningCount('analysing') >= 1) break;
        this.launch('analysing', i, analysing);
      }
    } else if (!this.warnedNoStage && toAnalyse.length > 0) {
      this.warnedNoStage = true;
      this.ctx.log.warn({ service: this.name }, 'the face pipeline is not connected: incidents wait in `analysing` with their master clips kept');
    }
  }

  private runningCount(step: StepName): number {
    let n = 0;
    for (const k of this.running.keys()) if (k.startsWith(`${step}:`)) n += 1;
    return n;
  }

  private launch(step: StepName, i: Incident, work: IncidentStep): void {
    const key = `${step}:${i.id}`;
    if (this.running.has(key)) return;
    // Starts of this step that never finished were crashes (a clean stop takes its start back).
    const crashes = this.repo.countStepRun(i.id) - 1;
    const run = async (): Promise<void> => {
      if (crashes >= Math.max(1, this.machine.policy.maxAttempts)) {
        throw new IncidentStepError(`the ${step} step was started ${crashes} times without finishing: the daemon stopped or crashed during it each time`, 'person', {
          code: 'step_crashed',
          hint: "check the daemon's log and memory (`journalctl -u hindsight`), then `hindsight incident retry ID`",
        });
      }
      await work.run(i, this.abort.signal);
      if (!this.abort.signal.aborted && this.repo.get(i.id)?.state === step) {
        throw new IncidentStepError(`the ${step} step ended without moving the incident on`, 'retry', { code: 'step_incomplete' });
      }
    };
    const p = run()
      .catch((err: unknown) => {
        if (this.abort.signal.aborted) {
          this.repo.uncountStepRun(i.id); // stopping: resume at next start, not a crash
          return;
        }
        if (this.repo.get(i.id)?.state !== step) return; // cancelled (or moved on) while working
        this.fail(i.id, step, err);
      })
      .finally(() => {
        this.running.delete(key);
        this.wake();
      });
    this.running.set(key, p);
  }

  /** Record a failed step: the incident, the step and the reason at warn, and what it now waits for. */
  private fail(id: string, step: StepName, err: unknown): void {
    const failure = classifyFailure(err);
    try {
      const updated = this.machine.fail(id, failure, { actor: SYSTEM });
      const waits = describeWait(updated.wait!);
      this.ctx.log.warn(
        { service: this.name, incident: id, step, reason: failure.reason, code: failure.code, attempt: updated.attempts, waits_for: waits },
        `incident ${id} failed while ${step}: ${failure.reason}; waiting for ${waits}`,
      );
    } catch (e) {
      this.ctx.log.error({ service: this.name, incident: id, step, reason: failure.reason, err: e }, 'cannot mark the incident failed');
    }
  }

  /** Extract now if every camera has footage up to the window end, or once we have waited long enough. */
  private decideWaiting(i: Incident, now: number): void {
    const cams = this.repo.cameras(i.id).map((c) => c.cameraId);
    const covered = cams.every((c) => (this.d.buffer.newestSegmentEnd(c) ?? -Infinity) >= i.windowToMs);
    const waitedEnough = now >= i.windowToMs + this.ctx.config.incidents.wait_for_footage_s * 1000;
    if (covered || waitedEnough) {
      this.machine.transition(i.id, 'extracting', { actor: SYSTEM, detail: covered ? {} : { note: 'some cameras had no footage up to the window end; cutting what exists' } });
    } else if (i.state === 'logged') {
      this.machine.transition(i.id, 'waiting', { actor: SYSTEM, detail: { until: new Date(i.windowToMs).toISOString() } });
    }
  }
}
