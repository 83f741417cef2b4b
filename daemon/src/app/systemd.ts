import type { Logger } from 'pino';
import { runCommand } from '../util/child.js';
import type { Service } from '../kernel/service.js';

/**
 * systemd Type=notify support without a native addon: `systemd-notify --pid=<our pid>` with
 * NotifyAccess=all in the unit. Sends READY=1 once every service is up, WATCHDOG=1 at half the
 * watchdog interval, and STOPPING=1 on shutdown. Does nothing when not started by systemd.
 */
export class SystemdNotifier implements Service {
  readonly name = 'systemd';
  private timer: NodeJS.Timeout | undefined;
  private readonly enabled: boolean;

  constructor(
    private readonly log: Logger,
    enabled: boolean,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.enabled = enabled && Boolean(env.NOTIFY_SOCKET);
  }

  async start(): Promise<void> {
    if (!this.enabled) return;
    const usec = Number(this.env.WATCHDOG_USEC ?? 0);
    if (usec > 0) {
      this.timer = setInterval(() => void this.send('WATCHDOG=1'), Math.max(1000, usec / 2000));
      this.timer.unref();
    }
  }

  /** Called by the composition root after every other service started. */
  async ready(): Promise<void> {
    await this.send('READY=1', 'STATUS=recording and waiting for incidents');
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
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
