import type { Logger } from 'pino';
import { runCommand } from '../util/child.js';
import type { Service } from '../kernel/service.js';

/** What `systemctl status` shows while all is well. */
const READY_STATUS = 'STATUS=recording and waiting for incidents';

/**
 * systemd Type=notify support without a native addon: `systemd-notify --pid=<our pid>` with
 * NotifyAccess=all in the unit. Sends READY=1 once every service is up and STOPPING=1 on shutdown. The
 * health check (app/liveness.ts) runs at half the watchdog interval and hands each verdict to `watchdog`,
 * which sends WATCHDOG=1 only when nothing is wrong: a daemon whose event loop is stuck or spinning, whose
 * database takes no write, or whose recorder or incident worker stopped turning is not fed, and systemd
 * restarts it once the interval passes (two missed checks). Meanwhile STATUS says why (`systemctl
 * status`), and the log too, once per change. Does nothing when not started by systemd.
 */
export class SystemdNotifier implements Service {
  readonly name = 'systemd';
  private readonly enabled: boolean;
  private lastProblem = '';

  constructor(
    private readonly log: Logger,
    enabled: boolean,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.enabled = enabled && Boolean(env.NOTIFY_SOCKET);
  }

  /** How often the health check must run to feed systemd's watchdog (half its interval), or undefined without one. */
  watchdogIntervalMs(): number | undefined {
    const usec = Number(this.env.WATCHDOG_USEC ?? 0);
    return this.enabled && usec > 0 ? Math.max(1000, usec / 2000) : undefined;
  }

  start(): void {}

  /** One health verdict: fed when healthy; otherwise why, in STATUS and (once per change) in the log. */
  async watchdog(problems: string[]): Promise<void> {
    if (this.watchdogIntervalMs() === undefined) return;
    const problem = problems.join('; ');
    if (problem !== this.lastProblem) {
      if (problem) this.log.error({ service: this.name, problems }, `unhealthy, the watchdog is not fed (systemd restarts the daemon if this lasts): ${problem}`);
      else this.log.info({ service: this.name }, 'healthy again: the watchdog is fed');
    }
    const changed = problem !== this.lastProblem;
    this.lastProblem = problem;
    if (!problem) await this.send('WATCHDOG=1', ...(changed ? [READY_STATUS] : []));
    else if (changed) await this.send(`STATUS=unhealthy: ${problem.slice(0, 400)}`);
  }

  /** Called by the composition root after every other service started. */
  async ready(): Promise<void> {
    await this.send('READY=1', READY_STATUS);
  }

  async stop(): Promise<void> {
    await this.send('STOPPING=1');
  }

  private async send(...messages: string[]): Promise<void> {
    if (!this.enabled) return;
    try {
      const r = await runCommand('systemd-notify', [`--pid=${process.pid}`, ...messages], { timeoutMs: 5000 });
      if (r.code !== 0) this.log.warn({ service: this.name, stderr: r.stderr.trim() }, 'systemd-notify failed');
    } catch (err) {
      this.log.warn({ service: this.name, err }, 'systemd-notify is not available');
    }
  }
}
