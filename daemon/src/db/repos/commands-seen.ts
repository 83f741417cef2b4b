import type { Db } from '../db.js';

/** The id of every command accepted from the force: a cmd_id is never accepted twice. */
export class CommandsSeenRepo {
  constructor(private readonly db: Db) {}

  has(cmdId: string): boolean {
    return this.db.prepare('SELECT 1 FROM commands_seen WHERE cmd_id = ?').get(cmdId) !== undefined;
  }

  insert(cmdId: string, receivedUtc: number): void {
    this.db.prepare('INSERT INTO commands_seen (cmd_id, received_utc) VALUES (?, ?)').run(cmdId, receivedUtc);
  }
}
