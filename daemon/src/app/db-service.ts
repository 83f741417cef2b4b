import { BootsRepo } from '../db/repos/boots.js';
import type { AppContext } from '../kernel/context.js';
import type { Service } from '../kernel/service.js';

/** Records each boot, notices an unclean previous stop, and closes the database last. */
export class DbService implements Service {
  readonly name = 'store';
  private readonly boots: BootsRepo;

  constructor(private readonly ctx: AppContext) {
    this.boots = new BootsRepo(ctx.db);
  }

  start(): void {
    const { log, clock, bootId, version } = this.ctx;
    const previous = this.boots.previous(bootId);
    this.boots.start(bootId, clock.now(), version);
    this.ctx.audit.append({ actor: { type: 'system', id: 'daemon' }, action: 'daemon.started', objectIds: [bootId], detail: { version, previousCleanStop: previous?.cleanStop ?? null } });
    if (previous && !previous.cleanStop) {
      log.warn({ service: this.name, previousBoot: previous.id }, 'the previous run did not stop cleanly; resuming unfinished work');
    }
  }

  stop(): void {
    const { db, clock, bootId } = this.ctx;
    if (!db.open) return;
    this.boots.stop(bootId, clock.now());
    this.ctx.audit.append({ actor: { type: 'system', id: 'daemon' }, action: 'daemon.stopped', objectIds: [bootId] });
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
  }
}
