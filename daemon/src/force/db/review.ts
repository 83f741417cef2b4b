import type { Db } from '../../db/db.js';
import { statement } from '../../db/statements.js';

export type Decision = 'possible_match' | 'no_match' | 'not_usable';

export interface DecisionRow {
  envelopeId: string;
  subjectId: string;
  reviewer: string;
  decision: Decision;
  personRef: string | null;
  reason: string;
  decidedUtc: number;
}

interface Row {
  envelope_id: string;
  subject_id: string;
  reviewer: string;
  decision: Decision;
  person_ref: string | null;
  reason: string;
  decided_utc: number;
}

const fromRow = (r: Row): DecisionRow => ({ envelopeId: r.envelope_id, subjectId: r.subject_id, reviewer: r.reviewer, decision: r.decision, personRef: r.person_ref, reason: r.reason, decidedUtc: r.decided_utc });

/** A link between two subjects of accepted incidents that look like the same unknown person. */
export interface SeriesLink {
  a: { envelopeId: string; subjectId: string };
  b: { envelopeId: string; subjectId: string };
  score: number;
  state: 'linked' | 'split';
}

/** The force's review decisions and series links. */
export class ReviewRepo {
  constructor(private readonly db: Db) {}

  /** A reviewer's decision on a subject (a reviewer may change their own; the latest stands). */
  decide(d: DecisionRow): void {
    statement(
      this.db,
      `INSERT INTO decisions (envelope_id, subject_id, reviewer, decision, person_ref, reason, decided_utc) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (envelope_id, subject_id, reviewer) DO UPDATE SET decision = excluded.decision, person_ref = excluded.person_ref, reason = excluded.reason, decided_utc = excluded.decided_utc`,
    ).run(d.envelopeId, d.subjectId, d.reviewer, d.decision, d.personRef, d.reason, d.decidedUtc);
  }

  decisionsOf(envelopeId: string, subjectId?: string): DecisionRow[] {
    const rows = subjectId === undefined
      ? statement(this.db, 'SELECT * FROM decisions WHERE envelope_id = ? ORDER BY decided_utc').all(envelopeId)
      : statement(this.db, 'SELECT * FROM decisions WHERE envelope_id = ? AND subject_id = ? ORDER BY decided_utc').all(envelopeId, subjectId);
    return (rows as Row[]).map(fromRow);
  }

  /** Subjects with a possible match two different reviewers agree on (same person). */
  confirmed(envelopeId: string, subjectId: string): string | undefined {
    return (statement(
      this.db,
      `SELECT person_ref FROM decisions WHERE envelope_id = ? AND subject_id = ? AND decision = 'possible_match'
       GROUP BY person_ref HAVING COUNT(DISTINCT reviewer) >= 2 LIMIT 1`,
    ).get(envelopeId, subjectId) as { person_ref: string } | undefined)?.person_ref;
  }

  deleteSubject(envelopeId: string, subjectId: string): void {
    statement(this.db, 'DELETE FROM decisions WHERE envelope_id = ? AND subject_id = ?').run(envelopeId, subjectId);
    statement(this.db, 'DELETE FROM series_links WHERE (a_envelope = ? AND a_subject = ?) OR (b_envelope = ? AND b_subject = ?)').run(envelopeId, subjectId, envelopeId, subjectId);
  }

  deleteEnvelope(envelopeId: string): void {
    statement(this.db, 'DELETE FROM decisions WHERE envelope_id = ?').run(envelopeId);
    statement(this.db, 'DELETE FROM series_links WHERE a_envelope = ? OR b_envelope = ?').run(envelopeId, envelopeId);
  }

  /** Link two subjects (kept in a fixed order); a link a reviewer split stays split. */
  link(a: { envelopeId: string; subjectId: string }, b: { envelopeId: string; subjectId: string }, score: number, nowUtc: number): void {
    const [x, y] = `${a.envelopeId}/${a.subjectId}` < `${b.envelopeId}/${b.subjectId}` ? [a, b] : [b, a];
    statement(this.db, "INSERT INTO series_links (a_envelope, a_subject, b_envelope, b_subject, score, state, linked_utc) VALUES (?, ?, ?, ?, ?, 'linked', ?) ON CONFLICT DO NOTHING").run(x.envelopeId, x.subjectId, y.envelopeId, y.subjectId, score, nowUtc);
  }

  split(a: { envelopeId: string; subjectId: string }, b: { envelopeId: string; subjectId: string }, by: string): boolean {
    const [x, y] = `${a.envelopeId}/${a.subjectId}` < `${b.envelopeId}/${b.subjectId}` ? [a, b] : [b, a];
    return statement(this.db, "UPDATE series_links SET state = 'split', split_by = ? WHERE a_envelope = ? AND a_subject = ? AND b_envelope = ? AND b_subject = ? AND state = 'linked'").run(by, x.envelopeId, x.subjectId, y.envelopeId, y.subjectId).changes === 1;
  }

  links(): SeriesLink[] {
    return (statement(this.db, "SELECT a_envelope, a_subject, b_envelope, b_subject, score, state FROM series_links WHERE state = 'linked'").all() as { a_envelope: string; a_subject: string; b_envelope: string; b_subject: string; score: number; state: 'linked' }[]).map((r) => ({
      a: { envelopeId: r.a_envelope, subjectId: r.a_subject },
      b: { envelopeId: r.b_envelope, subjectId: r.b_subject },
      score: r.score,
      state: r.state,
    }));
  }
}
