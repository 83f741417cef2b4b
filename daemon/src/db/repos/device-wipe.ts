import type { Db } from '../db.js';

export interface ErasedRows {
  outbox: number;
  outbox_chunks: number;
  segments: number;
  web_sessions: number;
}

/**
 * The rows a wiped box must not keep (the force's `wipe` command): the outbox (sealed evidence), the
 * buffer's index and the web sessions. The audit log is not touched (it is append-only by trigger).
 */
export class DeviceWipeRepo {
  constructor(private readonly db: Db) {}

  /** Every camera id the box knows footage folders by: registered cameras and cameras of indexed segments. */
  cameraIds(): string[] {
    return (this.db.prepare('SELECT id FROM cameras UNION SELECT DISTINCT camera_id FROM segments').all() as { id: string }[]).map((r) => r.id);
  }

  incidentIds(): string[] {
    return (this.db.prepare('SELECT id FROM incidents').all() as { id: string }[]).map((r) => r.id);
  }

  /**
   * Delete the rows, overwriting their pages (secure_delete) so the database file keeps no copy in its
   * free pages; the caller's transaction holds them together.
   */
  eraseRows(): ErasedRows {
    this.db.pragma('secure_delete = ON');
    const chunks = this.db.prepare('DELETE FROM outbox_chunks').run().changes;
    return {
      outbox_chunks: chunks,
      outbox: this.db.prepare('DELETE FROM outbox').run().changes,
      segments: this.db.prepare('DELETE FROM segments').run().changes,
      web_sessions: this.db.prepare('DELETE FROM web_sessions').run().changes,
    };
  }

  /** Fold the write-ahead log (which may still hold the deleted pages) into the file and empty it. */
  checkpoint(): void {
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }
}
