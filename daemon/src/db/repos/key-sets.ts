import type { Db } from '../db.js';

/**
 * The force key sets this box installed, newest seq last. `signed` is the signed key set as JSON; checking
 * it against the pinned root is uplink/enrollment.ts's job, before it is ever inserted here.
 */
export interface InstalledKeySet {
  seq: number;
  rootKid: string;
  signed: unknown;
  installedUtc: number;
}

export class KeySetsRepo {
  constructor(private readonly db: Db) {}

  /** The root key id of the newest installed key set. */
  latestRootKid(): string | undefined {
    return (this.db.prepare('SELECT root_kid FROM key_sets ORDER BY seq DESC LIMIT 1').get() as { root_kid: string } | undefined)?.root_kid;
  }

  /** The newest installed signed key set, parsed; undefined when none is installed. */
  latestSigned(): unknown {
    const r = this.db.prepare('SELECT signed FROM key_sets ORDER BY seq DESC LIMIT 1').get() as { signed: string } | undefined;
    return r ? (JSON.parse(r.signed) as unknown) : undefined;
  }

  insert(k: InstalledKeySet): void {
    this.db.prepare('INSERT INTO key_sets (seq, root_kid, signed, installed_utc) VALUES (?, ?, ?, ?)').run(k.seq, k.rootKid, JSON.stringify(k.signed), k.installedUtc);
  }

  deleteAll(): void {
    this.db.prepare('DELETE FROM key_sets').run();
  }
}
