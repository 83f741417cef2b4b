import type { Db } from '../db.js';

export interface Boot {
  id: string;
  startedUtc: number;
  stoppedUtc: number | null;
  version: string;
  cleanStop: boolean;
}

interface Row {
  id: string;
  started_utc: number;
  stopped_utc: number | null;
  version: string;
  clean_stop: number;
}

const COLUMNS = 'id, started_utc, stopped_utc, version, clean_stop';
const fromRow = (r: Row): Boot => ({ id: r.id, startedUtc: r.started_utc, stoppedUtc: r.stopped_utc, version: r.version, cleanStop: r.clean_stop === 1 });

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
    const row = this.db.prepare(`SELECT ${COLUMNS} FROM boots WHERE id != ? ORDER BY started_utc DESC, id DESC LIMIT 1`).get(currentId) as Row | undefined;
    return row && fromRow(row);
  }

  /** The newest start, this one included: a daemon that never said it stopped is running (or was killed). */
  latest(): Boot | undefined {
    const row = this.db.prepare(`SELECT ${COLUMNS} FROM boots ORDER BY started_utc DESC, id DESC LIMIT 1`).get() as Row | undefined;
    return row && fromRow(row);
  }
}
