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

function fromEmbeddedRow(r: EmbeddedRow): EmbeddedSubject {
  return {
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
  };
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
    return rows.map(fromEmbeddedRow);
  }

  /** The subjects of one stored package (what an officer chooses from at triage), embeddings included. */
  ofEnvelope(envelopeId: string): (NewSubject & { embedding: Buffer | null })[] {
    const rows = statement(this.db, 'SELECT subject_id, cameras, crops, first_seen, model, embedding FROM subjects WHERE envelope_id = ? ORDER BY subject_id').all(envelopeId) as Omit<EmbeddedRow, 'envelope_id' | 'incident_id' | 'device_id' | 'store'>[];
    return rows.map((r) => ({ subjectId: r.subject_id, cameras: JSON.parse(r.cameras) as string[], crops: JSON.parse(r.crops) as string[], firstSeen: r.first_seen, model: r.model, embedding: r.embedding }));
  }

  /**
   * Subjects an officer selected in accepted incidents, with embeddings: the only faces a search across
   * incidents may compare (nothing of an untriaged, rejected or expired incident).
   */
  searchable(): EmbeddedSubject[] {
    const rows = statement(
      this.db,
      `SELECT s.envelope_id, s.subject_id, s.cameras, s.crops, s.first_seen, s.model, s.embedding, i.incident_id, i.device_id, i.store
       FROM subjects s JOIN incidents i ON i.envelope_id = s.envelope_id JOIN triage t ON t.envelope_id = s.envelope_id
       WHERE s.embedding IS NOT NULL AND t.state = 'accepted' AND EXISTS (SELECT 1 FROM json_each(t.subjects) j WHERE j.value = s.subject_id)`,
    ).all() as EmbeddedRow[];
    return rows.map(fromEmbeddedRow);
  }

  deleteEnvelope(envelopeId: string): void {
    statement(this.db, 'DELETE FROM subjects WHERE envelope_id = ?').run(envelopeId);
  }

  deleteSubject(envelopeId: string, subjectId: string): void {
    statement(this.db, 'DELETE FROM subjects WHERE envelope_id = ? AND subject_id = ?').run(envelopeId, subjectId);
  }
}
