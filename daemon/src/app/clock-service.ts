import type { Logger } from 'pino';
import type { ClockSyncMonitor } from '../util/clock-sync.js';
import type { Service } from '../kernel/service.js';

const REFRESH_MS = 60_000;

/** Keeps the clock's NTP state fresh for manifests and audit rows; warns while it is not synced. */
export class ClockService implements Service {
  readonly name = 'clock';
  private timer: NodeJS.Timeout | undefined;
  private warned = false;

  constructor(
    private readonly monitor: ClockSyncMonitor,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await this.check();
    this.timer = setInterval(() => void this.check(), REFRESH_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async check(): Promise<void> {
    const state = await this.monitor.refresh();
    if (!state.synced && !this.warned) {
      this.log.warn({ service: this.name, clock: state }, 'the clock is not NTP-synchronised: evidence times carry this state; enable chrony or systemd-timesyncd');
    }
    if (state.synced && this.warned) this.log.info({ service: this.name, clock: state }, 'the clock is synchronised again');
    this.warned = !state.synced;
  }
}
