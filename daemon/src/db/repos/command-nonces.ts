import type { Db } from '../db.js';

export interface CommandNonceRow {
  bootId: string;
  issuedMonoMs: number;
  issuedUtc: number;
  usedUtc: number | null;
  usedBy: string | null;
}

/** The nonces the box gave out for high-risk commands, by their SHA-256 (the nonce itself is never stored). */
export class CommandNoncesRepo {
  constructor(private readonly db: Db) {}

  insert(sha256: string, n: { bootId: string; issuedMonoMs: number; issuedUtc: number }): void {
    this.db.prepare('INSERT INTO command_nonces (nonce_sha256, boot_id, issued_mono_ms, issued_utc) VALUES (?, ?, ?, ?)').run(sha256, n.bootId, n.issuedMonoMs, n.issuedUtc);
  }

  get(sha256: string): CommandNonceRow | undefined {
    return this.db
      .prepare('SELECT boot_id AS bootId, issued_mono_ms AS issuedMonoMs, issued_utc AS issuedUtc, used_utc AS usedUtc, used_by AS usedBy FROM command_nonces WHERE nonce_sha256 = ?')
      .get(sha256) as CommandNonceRow | undefined;
  }

  /** Mark used; false when it was used already (the caller's transaction decides). */
  markUsed(sha256: string, usedUtc: number, cmdId: string): boolean {
    return this.db.prepare('UPDATE command_nonces SET used_utc = ?, used_by = ? WHERE nonce_sha256 = ? AND used_utc IS NULL').run(usedUtc, cmdId, sha256).changes === 1;
  }

  /** Delete the nonces of other processes and those of this one given out before `issuedBeforeMonoMs`. */
  purge(bootId: string, issuedBeforeMonoMs: number): number {
    return this.db.prepare('DELETE FROM command_nonces WHERE boot_id <> ? OR issued_mono_ms < ?').run(bootId, issuedBeforeMonoMs).changes;
  }

  /** Keep at most `max` unused nonces: the oldest others go. */
  trimUnused(max: number): number {
    return this.db
      .prepare('DELETE FROM command_nonces WHERE used_utc IS NULL AND nonce_sha256 NOT IN (SELECT nonce_sha256 FROM command_nonces WHERE used_utc IS NULL ORDER BY issued_mono_ms DESC, rowid DESC LIMIT ?)')
      .run(max).changes;
  }
}
