import type { Db } from '../../db/db.js';
import { statement } from '../../db/statements.js';

/** One proposal of a candidate list: a gallery person whose photo scored above the threshold. */
export interface Candidate {
  envelopeId: string;
  subjectId: string;
  /** 1 = the closest. */
  rank: number;
  personRef: string;
  photoId: string;
  score: number;
  model: string;
  searchedUtc: number;
}

interface Row {
  envelope_id: string;
  subject_id: string;
  rank: number;
  person_ref: string;
  photo_id: string;
  score: number;
  model: string;
  searched_utc: number;
}

/** The force's `candidates` table: each searched subject's candidate list (proposals, never identifications). */
export class CandidatesRepo {
  constructor(private readonly db: Db) {}

  /** Replace a subject's list (a new search supersedes the old one). */
  replace(envelopeId: string, subjectId: string, list: Omit<Candidate, 'envelopeId' | 'subjectId'>[]): void {
    statement(this.db, 'DELETE FROM candidates WHERE envelope_id = ? AND subject_id = ?').run(envelopeId, subjectId);
    const insert = statement(this.db, 'INSERT INTO candidates (envelope_id, subject_id, rank, person_ref, photo_id, score, model, searched_utc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    for (const c of list) insert.run(envelopeId, subjectId, c.rank, c.personRef, c.photoId, c.score, c.model, c.searchedUtc);
  }

  ofEnvelope(envelopeId: string): Candidate[] {
    return (statement(this.db, 'SELECT envelope_id, subject_id, rank, person_ref, photo_id, score, model, searched_utc FROM candidates WHERE envelope_id = ? ORDER BY subject_id, rank').all(envelopeId) as Row[]).map((r) => ({
      envelopeId: r.envelope_id,
      subjectId: r.subject_id,
      rank: r.rank,
      personRef: r.person_ref,
      photoId: r.photo_id,
      score: r.score,
      model: r.model,
      searchedUtc: r.searched_utc,
    }));
  }

  deleteSubject(envelopeId: string, subjectId: string): void {
    statement(this.db, 'DELETE FROM candidates WHERE envelope_id = ? AND subject_id = ?').run(envelopeId, subjectId);
  }

  deleteEnvelope(envelopeId: string): void {
    statement(this.db, 'DELETE FROM candidates WHERE envelope_id = ?').run(envelopeId);
  }
}
