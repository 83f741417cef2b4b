import type { AuditActor } from '../../audit/log.js';
import type { Db } from '../../db/db.js';
import { isoUtc } from '../../util/clock.js';
import { CandidatesRepo } from '../db/candidates.js';
import { IncidentsRepo } from '../db/incidents.js';
import type { DecisionRow } from '../db/review.js';
import { TriageRepo, type TriageRow } from '../db/triage.js';
import type { Workbench } from '../workbench.js';
import { pictureUrl, type FacePictures } from './evidence-files.js';

/**
 * Where a case stands for reviewers, by what is left to do first: `to_review` (a searched subject has no
 * decision yet), `second_review` (a possible match named by one reviewer waits for a second, different
 * one), `confirmed` (every subject decided, a possible match two reviewers agree on), `reviewed` (every
 * subject decided, nothing confirmed).
 */
export type CaseState = 'to_review' | 'second_review' | 'confirmed' | 'reviewed';

/** How the workbench names a reviewer in its decisions (the audit actor's type and id). */
export const reviewerKey = (a: AuditActor): string => `${a.type}:${a.id}`;

/**
 * The reviewers' side of accepted incidents: the case queue (counts and states, no names or faces, so not
 * audited) and one case as a reviewer reads it (its candidate lists, audited by the workbench).
 */
export class Cases {
  private readonly triage: TriageRepo;
  private readonly incidents: IncidentsRepo;
  private readonly candidates: CandidatesRepo;

  constructor(private readonly d: { db: Db; workbench: Workbench; pictures: FacePictures; names: () => Map<string, string> }) {
    this.triage = new TriageRepo(d.db);
    this.incidents = new IncidentsRepo(d.db);
    this.candidates = new CandidatesRepo(d.db);
  }

  /** The accepted incidents, oldest first, with their candidate counts and review state. */
  queue(): unknown[] {
    return this.triage.list(['accepted']).flatMap((t) => {
      const stored = this.incidents.get(t.envelopeId);
      if (!stored) return [];
      const counts = new Map<string, number>();
      for (const c of this.candidates.ofEnvelope(t.envelopeId)) counts.set(c.subjectId, (counts.get(c.subjectId) ?? 0) + 1);
      const review = this.d.workbench.reviewOf(t.envelopeId);
      return [
        {
          ...this.header(t, stored),
          state: stateOf(review.subjects),
          subjects: review.subjects.map((s) => ({ id: s.subjectId, candidates: counts.get(s.subjectId) ?? 0, decisions: s.decisions.length, confirmed: s.confirmed !== undefined })),
        },
      ];
    });
  }

  /** The accepted incidents by where their review stands (the review queue's depth, for the metrics). */
  countByState(): Record<CaseState, number> {
    const counts: Record<CaseState, number> = { to_review: 0, second_review: 0, confirmed: 0, reviewed: 0 };
    for (const t of this.triage.list(['accepted'])) if (this.incidents.get(t.envelopeId)) counts[stateOf(this.d.workbench.reviewOf(t.envelopeId).subjects)] += 1;
    return counts;
  }

  /** One case for a reviewer: each searched subject's crops beside its candidates, and every decision (audited). */
  open(envelopeId: string, by: AuditActor): unknown {
    const { triage: t, lists } = this.d.workbench.candidateLists(envelopeId, by);
    const review = this.d.workbench.reviewOf(t.envelopeId);
    const { crops, context } = this.d.pictures.names(t.envelopeId);
    const names = this.d.names();
    const me = reviewerKey(by);
    return {
      ...this.header(t, this.incidents.get(t.envelopeId)!),
      necessity: t.necessity,
      state: stateOf(review.subjects),
      subjects: review.subjects.map((s) => {
        const list = lists.find((l) => l.subjectId === s.subjectId);
        return {
          id: s.subjectId,
          crops: (crops.get(s.subjectId) ?? []).map((n) => pictureUrl('cases', t.envelopeId, n)),
          context: context.slice(0, 1).map((n) => pictureUrl('cases', t.envelopeId, n)),
          candidates: (list?.candidates ?? []).map((c) => ({ rank: c.rank, person: c.personRef, score: Math.round(c.score * 1000) / 1000, photo: `/api/v1/cases/${encodeURIComponent(t.envelopeId)}/photos/${encodeURIComponent(c.photoId)}` })),
          note: list?.note ?? null,
          decisions: s.decisions.map((x) => decisionView(x, names, me)),
          confirmed: s.confirmed ?? null,
        };
      }),
    };
  }

  private header(t: TriageRow, stored: { store: string; device_id: string; window_start: number; window_end: number }): Record<string, unknown> {
    return {
      envelope: t.envelopeId,
      incident: t.incidentId,
      store: stored.store,
      device: stored.device_id,
      window: { from: isoUtc(stored.window_start), to: isoUtc(stored.window_end) },
      crime_ref: t.crimeRef,
      accepted: t.decidedUtc === null ? null : isoUtc(t.decidedUtc),
    };
  }
}

/** A decision as the console shows it: the reviewer by their account's name, and whether it is the caller's. */
export function decisionView(x: DecisionRow, names: Map<string, string>, me: string): unknown {
  const [type, ...rest] = x.reviewer.split(':');
  const id = rest.join(':');
  return { reviewer: type === 'user' ? (names.get(id) ?? id) : x.reviewer, mine: x.reviewer === me, decision: x.decision, person: x.personRef, reason: x.reason, at: isoUtc(x.decidedUtc) };
}

/** What is left to do first: an undecided subject, then a possible match one reviewer named alone. */
function stateOf(subjects: { decisions: DecisionRow[]; confirmed: string | undefined }[]): CaseState {
  if (subjects.some((s) => s.decisions.length === 0)) return 'to_review';
  if (subjects.some((s) => s.confirmed === undefined && s.decisions.length === 1 && s.decisions[0]!.decision === 'possible_match')) return 'second_review';
  if (subjects.some((s) => s.confirmed !== undefined)) return 'confirmed';
  return 'reviewed';
}
