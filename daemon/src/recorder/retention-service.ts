import { mkdirSync } from 'node:fs';
import type { AppContext } from '../kernel/context.js';
import type { Service } from '../kernel/service.js';
import { bufferPolicy, Retention } from './retention.js';

/** Runs retention at start-up (before recording resumes) and then every `buffer.retention_interval_s`. */
export class RetentionService implements Service {
  readonly name = 'retention';
  readonly retention: Retention;
  private timer: NodeJS.Timeout | undefined;
  runs = 0;

  constructor(private readonly ctx: AppContext) {
    this.retention = new Retention({
      db: ctx.db,
      audit: ctx.audit,
      clock: ctx.clock,
      log: ctx.log.child({ service: this.name }),
      bufferDir: ctx.paths.bufferDir,
      policy: () => bufferPolicy(ctx.config, ctx.db),
    });
  }

  start(): void {
    mkdirSync(this.ctx.paths.bufferDir, { recursive: true, mode: 0o750 });
    this.runOnce();
    this.timer = setInterval(() => this.runOnce(), this.ctx.config.buffer.retention_interval_s * 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private runOnce(): void {
    try {
      this.retention.run();
      this.runs += 1;
    } catch (err) {
      // a busy or full database must not stop the daemon; the next run tries again
      this.ctx.log.error({ service: this.name, err }, 'retention run failed; retrying at the next interval');
    }
  }
}
