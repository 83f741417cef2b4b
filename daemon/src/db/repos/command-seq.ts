import type { Db } from '../db.js';

/** The highest command sequence number accepted from each force issuer key (replay protection). */
export class CommandSeqRepo {
  constructor(private readonly db: Db) {}

  /** The issuer's last accepted seq; 0 when it never sent a command. */
  last(issuerKid: string): number {
    return (this.db.prepare('SELECT last_seq FROM command_seq WHERE issuer_kid = ?').get(issuerKid) as { last_seq: number } | undefined)?.last_seq ?? 0;
  }

  set(issuerKid: string, seq: number): void {
    this.db.prepare('INSERT INTO command_seq (issuer_kid, last_seq) VALUES (?, ?) ON CONFLICT(issuer_kid) DO UPDATE SET last_seq = excluded.last_seq').run(issuerKid, seq);
  }
}
