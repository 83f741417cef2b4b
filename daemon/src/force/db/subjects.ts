import type { Db } from '../../db/db.js';
import { statement } from '../../db/statements.js';

/** A subject of a stored package to record (its embedding as float32 little-endian, when it has one). */
export interface NewSubject {
  subjectId: string;
  cameras: string[];
  crops: string[];
  firstSeen: number;
  model: string | null;
  embedding: Buffer | null;
}

/** A stored subject with an embedding, with the incident it belongs to (what a search compares). */
export interface EmbeddedSubject {
  envelopeId: string;
  subjectId: string;
  cameras: string[];
  crops: string[];
  firstSeen: number;
  model: string | null;
  embedding: Buffer;
  incidentId: string;
  deviceId: string;
  store: string;
}

interface EmbeddedRow {
  envelope_id: string;
  subject_id: string;
  cameras: string;
  crops: string;
  first_seen: number;
  model: string | null;
  embedding: Buffer;
  incident_id: string;
  device_id: string;
  store: string;
}

/** The force's `subjects` table: the people of each stored package, with their embeddings. */
export class SubjectsRepo {
  constructor(private readonly db: Db) {}

  add(envelopeId: string, s: NewSubject): void {
    statement(this.db, 'INSERT INTO subjects (envelope_id, subject_id, cameras, crops, first_seen, model, embedding) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
      envelopeId,
      s.subjectId,
      JSON.stringify(s.cameras),
      JSON.stringify(s.crops),
      s.firstSeen,
      s.model,
      s.embedding,
    );
  }

  /** Every stored subject that has an embedding. */
  embedded(): EmbeddedSubject[] {
    const rows = statement(
      this.db,
      `SELECT s.envelope_id, s.subject_id, s.cameras, s.crops, s.first_seen, s.model, s.embedding, i.incident_id, i.device_id, i.store
       FROM subjects s JOIN incidents i ON i.envelope_id = s.envelope_id
       WHERE s.embedding IS NOT NULL`,
    ).all() as EmbeddedRow[];
    return rows.map((r) => ({
      envelopeId: r.envelope_id,
      subjectId: r.subject_id,
      cameras: JSON.parse(r.cameras) as string[],
      crops: JSON.parse(r.crops) as string[],
      firstSeen: r.first_seen,
      model: r.model,
      embedding: r.embedding,
      incidentId: r.incident_id,
      deviceId: r.device_id,
      store: r.store,
    }));
  }
}
