import type { Db } from '../../db/db.js';
import { statement } from '../../db/statements.js';

/** A file of a stored package, where the store keeps it. */
export interface StoredFile {
  name: string;
  kind: string;
  sha256: string;
  bytes: number;
  path: string;
}

/** The force's `files` table: each file of each stored package, with its hash. */
export class FilesRepo {
  constructor(private readonly db: Db) {}

  add(envelopeId: string, f: StoredFile): void {
    statement(this.db, 'INSERT INTO files (envelope_id, name, kind, sha256, bytes, path) VALUES (?, ?, ?, ?, ?, ?)').run(envelopeId, f.name, f.kind, f.sha256, f.bytes, f.path);
  }

  /** The files of an envelope: name, recorded hash and path. */
  ofEnvelope(envelopeId: string): Pick<StoredFile, 'name' | 'sha256' | 'path'>[] {
    return statement(this.db, 'SELECT name, sha256, path FROM files WHERE envelope_id = ?').all(envelopeId) as Pick<StoredFile, 'name' | 'sha256' | 'path'>[];
  }

  /** Where the file `name` of an envelope is kept. */
  pathOf(envelopeId: string, name: string): string | undefined {
    return (statement(this.db, 'SELECT path FROM files WHERE envelope_id = ? AND name = ?').get(envelopeId, name) as { path: string } | undefined)?.path;
  }

  deleteEnvelope(envelopeId: string): void {
    statement(this.db, 'DELETE FROM files WHERE envelope_id = ?').run(envelopeId);
  }
}
