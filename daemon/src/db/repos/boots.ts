import type { Db } from '../db.js';

export interface Boot {
  id: string;
  startedUtc: number;
  stoppedUtc: number | null;
  version: string;
  cleanStop: boolean;
}

/** One row per daemon start; an unclean previous stop is how a crash is noticed. */
export class BootsRepo {
  constructor(private readonly db: Db) {}

  start(id: string, startedUtc: number, version: string): void {
    this.db.prepare('INSERT INTO boots (id, started_utc, version) VALUES (?, ?, ?)').run(id, startedUtc, version);
  }

  stop(id: string, stoppedUtc: number): void {
    this.db.prepare('UPDATE boots SET stopped_utc = ?, clean_stop = 1 WHERE id = ?').run(stoppedUtc, id);
  }

  previous(currentId: string): Boot | undefined {
    const row = this.db
      .prepare('SELECT id, started_utc, stopped_utc, version, clean_stop FROM boots WHERE id != ? ORDER BY started_utc DESC, id DESC LIMIT 1')
      .get(currentId) as { id: string; started_utc: number; stopped_utc: number | null; version: string; clean_stop: number } | undefined;
    if (!row) return undefined;
    return { id: row.id, startedUtc: row.started_utc, stoppedUtc: row.stopped_utc, version: row.version, cleanStop: row.clean_stop === 1 };
  }
}
