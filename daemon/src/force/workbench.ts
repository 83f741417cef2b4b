import { rmSync } from 'node:fs';
import type { AuditActor, AuditLog } from '../audit/log.js';
import type { Db } from '../db/db.js';
import type { Clock } from '../util/clock.js';
import { HindsightError, UsageError } from '../util/errors.js';
import { CandidatesRepo, type Candidate } from './db/candidates.js';
import { FilesRepo } from './db/files.js';
import { IncidentsRepo } from './db/incidents.js';
import { purgeDeleted } from './db/purge.js';
import { SubjectsRepo } from './db/subjects.js';
import { ReviewRepo, type Decision, type DecisionRow } from './db/review.js';
import { TriageRepo, type TriageRow } from './db/triage.js';
import type { Gallery } from './gallery.js';
import { requireJustification } from './justification.js';
import { cosine, toFloat32 } from './search.js';

/**
 * The force's triage and candidate lists, the way retrospective facial recognition must be run: an
 * incident's faces are not searched, linked or shown until an officer opens it (audited), records a crime
 * reference and why a search is necessary, and picks the subjects to search; then each is searched
 * against the custody gallery and gets a candidate list (proposals for trained reviewers, never an
 * identification). An incident rejected, or not triaged in time, is deleted with a deletion receipt.
 * Nothing found here ever flows back to a box.
 */

export interface WorkbenchPolicy {
  /** Candidates per searched subject. */
  topK: number;
  /** Cosine similarity a gallery photo must reach to be proposed. */
  threshold: number;
  /** Days an incident may wait untriaged before it is deleted (at most 31). */
  triageMaxDays: number;
  /** Days after acceptance that subjects without a confirmed possible match are kept. */
  retentionDays: number;
  /** Cosine similarity linking two subjects of accepted incidents into a series. */
  seriesThreshold: number;
}

const DAY_MS = 86_400_000;
const CRIME_REF = /^[A-Za-z0-9][A-Za-z0-9 /_.:-]{2,39}$/;
const SYSTEM: AuditActor = { type: 'system', id: 'triage' };

/** What the triage queue shows of an incident: where and when, never a face. */
export interface QueueItem {
  envelopeId: string;
  incidentId: string;
  deviceId: string;
  store: string;
  window: { start: number; end: number };
  receivedUtc: number;
  subjects: number;
  /** When it is deleted if nobody triages it. */
  deleteAtUtc: number;
}

/** An incident as an officer opens it for triage: its subjects and their crops. */
export interface OpenedIncident extends QueueItem {
  state: TriageRow['state'];
  dir: string;
  subjectList: { subjectId: string; cameras: string[]; crops: string[]; searchable: boolean }[];
}

export interface SubjectCandidates {
  subjectId: string;
  candidates: Pick<Candidate, 'rank' | 'personRef' | 'photoId' | 'score'>[];
  /** Why the list is empty or partial, in words (e.g. the gallery has no photo of this model). */
  note?: string;
}

export class Workbench {
  private readonly triage: TriageRepo;
  private readonly incidents: IncidentsRepo;
  private readonly subjects: SubjectsRepo;
  private readonly candidates: CandidatesRepo;
  private readonly review: ReviewRepo;

  constructor(private readonly d: { db: Db; audit: AuditLog; clock: Clock; gallery: Gallery; policy: WorkbenchPolicy }) {
    this.triage = new TriageRepo(d.db);
    this.incidents = new IncidentsRepo(d.db);
    this.subjects = new SubjectsRepo(d.db);
    this.candidates = new CandidatesRepo(d.db);
    this.review = new ReviewRepo(d.db);
  }

  /** The gallery's search index loaded (or built) now, at start, rather than at the first search. */
  loadGalleryIndex(): void {
    this.d.gallery.loadIndex();
  }

  /** The incidents waiting for an officer, oldest first (no faces, no search). */
  queue(): QueueItem[] {
    return this.triage.list(['untriaged']).flatMap((t) => {
      const item = this.item(t);
      return item ? [item] : [];
    });
  }

  /** An envelope id, or an incident id with one stored envelope. */
  resolve(id: string): TriageRow {
    const byEnvelope = this.triage.get(id);
    if (byEnvelope) return byEnvelope;
    const rows = this.triage.ofIncident(id);
    if (rows.length === 1) return rows[0]!;
    if (rows.length > 1) throw new UsageError(`incident ${id} arrived in ${rows.length} envelopes: name one`, { hint: `envelopes: ${rows.map((r) => r.envelopeId).join(', ')}` });
    throw new UsageError(`no incident or envelope ${JSON.stringify(id.slice(0, 80))} here`, { hint: '`hindsight-force triage list` shows the incidents waiting' });
  }

  /** Open an incident to triage it: its subjects and crops are shown, so the look is audited. */
  open(id: string, by: AuditActor): OpenedIncident {
    const t = this.resolve(id);
    const item = this.item(t);
    if (!item) throw new HindsightError(`incident ${t.incidentId} was ${t.state}: its evidence is deleted`, { code: 'deleted' });
    const stored = this.incidents.get(t.envelopeId)!;
    const subjectList = this.subjects.ofEnvelope(t.envelopeId).map((s) => ({ subjectId: s.subjectId, cameras: s.cameras, crops: s.crops, searchable: s.embedding !== null }));
    this.d.audit.append({ actor: by, action: 'triage.opened', objectIds: [t.incidentId, t.envelopeId], detail: { state: t.state, subjects: subjectList.length } });
    return { ...item, state: t.state, dir: stored.dir, subjectList };
  }

  /**
   * Accept an incident for search: the crime reference, why a search is necessary and proportionate, and
   * the subjects to search (the others are never searched). Each is searched against the gallery now.
   */
  accept(id: string, input: { crimeRef: string; necessity: string; subjects: string[] | 'all' }, by: AuditActor): SubjectCandidates[] {
    const t = this.resolve(id);
    if (t.state !== 'untriaged') throw new UsageError(`incident ${t.incidentId} is already ${t.state}`, { hint: t.state === 'accepted' ? '`hindsight-force candidates` shows its candidate lists' : 'its evidence is deleted' });
    const crimeRef = input.crimeRef.trim();
    if (!CRIME_REF.test(crimeRef)) throw new UsageError(`crime reference ${JSON.stringify(crimeRef.slice(0, 60))} is not valid`, { hint: 'the force\'s crime reference, 3 to 40 letters, digits, spaces and / _ . : -' });
    const necessity = requireJustification(input.necessity, '--necessity');
    const all = this.subjects.ofEnvelope(t.envelopeId);
    const chosen = input.subjects === 'all' ? all.filter((s) => s.embedding) : [...new Set(input.subjects)].map((sid) => {
      const s = all.find((x) => x.subjectId === sid);
      if (!s) throw new UsageError(`incident ${t.incidentId} has no subject ${JSON.stringify(sid.slice(0, 40))}`, { hint: `its subjects: ${all.map((x) => x.subjectId).join(', ') || 'none'}` });
      if (!s.embedding) throw new UsageError(`subject ${sid} has no embedding (the box sent crops only): it cannot be searched`, { hint: 'a reviewer can still look at its crops' });
      return s;
    });
    if (chosen.length === 0) throw new UsageError(`incident ${t.incidentId} has no subject that can be searched`, { hint: 'reject it, or keep it for its crops' });
    const now = this.d.clock.now();
    const results: SubjectCandidates[] = [];
    this.d.db.transaction(() => {
      // decided once: another officer's decision in between wins, and nothing is searched twice
      if (!this.triage.accept(t.envelopeId, { nowUtc: now, by: actorName(by), crimeRef, necessity, subjects: chosen.map((s) => s.subjectId) })) {
        throw new UsageError(`incident ${t.incidentId} was decided by someone else a moment ago`, { hint: '`hindsight-force triage list` and `candidates` show where it is' });
      }
      this.d.audit.append({ actor: by, action: 'triage.accepted', objectIds: [t.incidentId, t.envelopeId, ...chosen.map((s) => s.subjectId)], justification: necessity, detail: { crime_ref: crimeRef, subjects: chosen.length, of: all.length } });
      for (const s of chosen) {
        const model = s.model ?? '';
        const { matches, compared } = this.d.gallery.searchCounted(toFloat32(s.embedding!), model, this.d.policy.topK, this.d.policy.threshold);
        const list = matches.map((m, i) => ({ rank: i + 1, personRef: m.personRef, photoId: m.photoId, score: m.score, model, searchedUtc: now }));
        this.candidates.replace(t.envelopeId, s.subjectId, list);
        this.d.audit.append({
          actor: by,
          action: 'gallery.searched',
          objectIds: [t.incidentId, s.subjectId, ...list.map((c) => c.personRef)],
          justification: necessity,
          detail: { crime_ref: crimeRef, candidates: list.length, best: list[0] ? round(list[0].score) : null, threshold: this.d.policy.threshold, top: this.d.policy.topK, model, compared },
        });
        const note = compared === 0 ? noGalleryOf(model) : list.length ? undefined : NO_CANDIDATE;
        results.push({ subjectId: s.subjectId, candidates: list.map(({ rank, personRef, photoId, score }) => ({ rank, personRef, photoId, score })), ...(note ? { note } : {}) });
      }
      this.linkSeries(t, now);
    })();
    return results;
  }

  /**
   * Series: each chosen subject of a newly accepted incident against the chosen subjects of every other
   * accepted incident; at or above the series threshold they are linked as possibly the same person.
   */
  private linkSeries(t: TriageRow, now: number): void {
    const all = this.subjects.searchable();
    const mine = all.filter((s) => s.envelopeId === t.envelopeId);
    const others = all.filter((s) => s.envelopeId !== t.envelopeId);
    let links = 0;
    for (const a of mine) {
      const va = toFloat32(a.embedding);
      for (const b of others) {
        if (b.model !== a.model) continue;
        const vb = toFloat32(b.embedding);
        if (vb.length !== va.length) continue;
        const score = cosine(va, vb);
        if (score < this.d.policy.seriesThreshold) continue;
        this.review.link({ envelopeId: a.envelopeId, subjectId: a.subjectId }, { envelopeId: b.envelopeId, subjectId: b.subjectId }, score, now);
        links++;
      }
    }
    if (links) this.d.audit.append({ actor: SYSTEM, action: 'series.linked', objectIds: [t.incidentId, t.envelopeId], detail: { links, threshold: this.d.policy.seriesThreshold } });
  }

  /**
   * A reviewer's decision on a searched subject: `possible_match` (naming a person from its candidate
   * list), `no_match` or `not_usable`, with a reason. A possible match is shown as one only when a second,
   * different reviewer records the same person.
   */
  decide(id: string, input: { subjectId: string; decision: Decision; personRef?: string; reason: string }, by: AuditActor): { decisions: DecisionRow[]; confirmed: string | undefined } {
    const t = this.resolve(id);
    if (t.state !== 'accepted') throw new UsageError(`incident ${t.incidentId} is ${t.state}: only the subjects of an accepted incident are reviewed`);
    if (!t.subjects.includes(input.subjectId)) throw new UsageError(`subject ${JSON.stringify(input.subjectId.slice(0, 40))} was not searched in incident ${t.incidentId}`, { hint: `searched: ${t.subjects.join(', ')}` });
    if (!['possible_match', 'no_match', 'not_usable'].includes(input.decision)) throw new UsageError(`decision must be possible_match, no_match or not_usable`);
    const reason = requireJustification(input.reason);
    let personRef: string | null = null;
    if (input.decision === 'possible_match') {
      const listed = this.candidates.ofEnvelope(t.envelopeId).filter((c) => c.subjectId === input.subjectId).map((c) => c.personRef);
      if (!input.personRef || !listed.includes(input.personRef)) throw new UsageError(`a possible match names a person from the subject's candidate list`, { hint: listed.length ? `candidates: ${listed.join(', ')}` : 'this subject has no candidate: decide no_match or not_usable' });
      personRef = input.personRef;
    } else if (input.personRef) throw new UsageError(`only a possible match names a person`);
    const reviewer = actorName(by);
    this.d.db.transaction(() => {
      this.review.decide({ envelopeId: t.envelopeId, subjectId: input.subjectId, reviewer, decision: input.decision, personRef, reason, decidedUtc: this.d.clock.now() });
      const confirmed = this.review.confirmed(t.envelopeId, input.subjectId);
      this.d.audit.append({ actor: by, action: 'review.decided', objectIds: [t.incidentId, input.subjectId, ...(personRef ? [personRef] : [])], justification: reason, detail: { crime_ref: t.crimeRef, decision: input.decision, confirmed: confirmed ?? null } });
    })();
    return { decisions: this.review.decisionsOf(t.envelopeId, input.subjectId), confirmed: this.review.confirmed(t.envelopeId, input.subjectId) };
  }

  /** Every decision on an accepted incident's subjects, and the confirmed possible matches. */
  reviewOf(id: string): { triage: TriageRow; subjects: { subjectId: string; decisions: DecisionRow[]; confirmed: string | undefined }[] } {
    const t = this.resolve(id);
    return { triage: t, subjects: t.subjects.map((sid) => ({ subjectId: sid, decisions: this.review.decisionsOf(t.envelopeId, sid), confirmed: this.review.confirmed(t.envelopeId, sid) })) };
  }

  /**
   * Series: groups of subjects of accepted incidents linked as possibly the same unknown person, each
   * with its incidents, stores and the days it spans ("seen at 3 shops in 14 days").
   */
  series(): { members: { envelopeId: string; subjectId: string; incidentId: string; store: string; firstSeen: number }[]; stores: number; days: number }[] {
    const parent = new Map<string, string>();
    const find = (k: string): string => {
      let r = k;
      while (parent.get(r) !== r) r = parent.get(r)!;
      parent.set(k, r);
      return r;
    };
    const key = (x: { envelopeId: string; subjectId: string }): string => `${x.envelopeId}/${x.subjectId}`;
    for (const l of this.review.links()) {
      for (const x of [l.a, l.b]) if (!parent.has(key(x))) parent.set(key(x), key(x));
      parent.set(find(key(l.a)), find(key(l.b)));
    }
    const info = new Map(this.subjects.searchable().map((s) => [key(s), s]));
    const groups = new Map<string, string[]>();
    for (const k of parent.keys()) if (info.has(k)) groups.set(find(k), [...(groups.get(find(k)) ?? []), k]);
    return [...groups.values()]
      .filter((g) => g.length > 1)
      .map((g) => {
        const members = g.map((k) => info.get(k)!).map((s) => ({ envelopeId: s.envelopeId, subjectId: s.subjectId, incidentId: s.incidentId, store: s.store, firstSeen: s.firstSeen })).sort((a, b) => a.firstSeen - b.firstSeen);
        const span = members[members.length - 1]!.firstSeen - members[0]!.firstSeen;
        return { members, stores: new Set(members.map((m) => m.store)).size, days: Math.max(1, Math.ceil(span / DAY_MS)) };
      })
      .sort((a, b) => b.members.length - a.members.length);
  }

  /** A reviewer splits a wrong series link (it stays split). */
  splitSeries(a: { envelopeId: string; subjectId: string }, b: { envelopeId: string; subjectId: string }, reason: string, by: AuditActor): void {
    const why = requireJustification(reason);
    this.d.db.transaction(() => {
      if (!this.review.split(a, b, actorName(by))) throw new UsageError(`${a.envelopeId}/${a.subjectId} and ${b.envelopeId}/${b.subjectId} are not linked`, { hint: '`hindsight-force series list` shows the links' });
      this.d.audit.append({ actor: by, action: 'series.split', objectIds: [a.envelopeId, a.subjectId, b.envelopeId, b.subjectId], justification: why });
    })();
  }

  /** An incident's candidate lists, as a reviewer reads them (audited: names of people are shown). */
  candidateLists(id: string, by: AuditActor): { triage: TriageRow; lists: SubjectCandidates[] } {
    const t = this.resolve(id);
    if (t.state !== 'accepted') throw new UsageError(`incident ${t.incidentId} is ${t.state}: it has no candidate list`, { hint: t.state === 'untriaged' ? 'an officer accepts it first (`hindsight-force triage accept`)' : undefined });
    const rows = this.candidates.ofEnvelope(t.envelopeId);
    const lists = t.subjects.map((sid) => {
      const c = rows.filter((r) => r.subjectId === sid).map(({ rank, personRef, photoId, score }) => ({ rank, personRef, photoId, score }));
      return { subjectId: sid, candidates: c, ...(c.length ? {} : { note: NO_CANDIDATE }) };
    });
    this.d.audit.append({ actor: by, action: 'candidates.viewed', objectIds: [t.incidentId, t.envelopeId], detail: { crime_ref: t.crimeRef, subjects: lists.length } });
    return { triage: t, lists };
  }

  /** An officer rejects an incident: no search; its evidence is deleted now, with a deletion receipt. */
  reject(id: string, reason: string, by: AuditActor): void {
    const t = this.resolve(id);
    if (t.state !== 'untriaged') throw new UsageError(`incident ${t.incidentId} is already ${t.state}`);
    this.deleteEvidence(t, 'rejected', requireJustification(reason), by, 'untriaged');
  }

  /**
   * The time limits: incidents nobody triaged within `triageMaxDays` are deleted; accepted incidents past
   * `retentionDays` lose every subject without a possible match two reviewers confirmed (the whole
   * evidence when none is confirmed; a case with a confirmed match keeps its package as evidence).
   * Returns how many incidents were deleted or thinned.
   */
  expireDue(): number {
    const now = this.d.clock.now();
    const due = this.triage.untriagedBefore(now - Math.min(this.d.policy.triageMaxDays, 31) * DAY_MS);
    for (const t of due) this.deleteEvidence(t, 'expired', `not triaged within ${this.d.policy.triageMaxDays} days`, SYSTEM, 'untriaged');
    let thinned = 0;
    const retentionCut = now - this.d.policy.retentionDays * DAY_MS;
    for (const t of this.triage.list(['accepted'])) {
      if ((t.decidedUtc ?? now) >= retentionCut) continue;
      const stored = this.subjects.ofEnvelope(t.envelopeId).map((s) => s.subjectId);
      const keep = stored.filter((sid) => this.review.confirmed(t.envelopeId, sid) !== undefined);
      if (keep.length === 0) {
        this.deleteEvidence(t, 'expired', `no possible match confirmed within ${this.d.policy.retentionDays} days of acceptance`, SYSTEM, 'accepted');
        thinned++;
        continue;
      }
      const drop = stored.filter((sid) => !keep.includes(sid));
      if (!drop.length) continue;
      this.d.db.transaction(() => {
        for (const sid of drop) {
          this.subjects.deleteSubject(t.envelopeId, sid);
          this.candidates.deleteSubject(t.envelopeId, sid);
          this.review.deleteSubject(t.envelopeId, sid);
        }
        this.d.audit.append({ actor: SYSTEM, action: 'subjects.deleted', objectIds: [t.incidentId, t.envelopeId, ...drop], justification: `no possible match confirmed within ${this.d.policy.retentionDays} days of acceptance`, detail: { subjects: drop.length, kept: keep.length, embeddings: drop.length } });
      })();
      purgeDeleted(this.d.db);
      thinned++;
    }
    return due.length + thinned;
  }

  /**
   * The evidence of an incident, gone: its subjects and embeddings, file rows, candidate lists and its
   * stored folder (package and envelope); the audit row with every file's hash is the deletion receipt.
   */
  private deleteEvidence(t: TriageRow, state: 'rejected' | 'expired', reason: string, by: AuditActor, from: 'untriaged' | 'accepted'): void {
    const stored = this.incidents.get(t.envelopeId);
    const files = new FilesRepo(this.d.db);
    const hashes = files.ofEnvelope(t.envelopeId).map((f) => f.sha256);
    const subjects = this.subjects.ofEnvelope(t.envelopeId).length;
    this.d.db.transaction(() => {
      if (!this.triage.close(t.envelopeId, state, from, { nowUtc: this.d.clock.now(), by: actorName(by), reason })) {
        throw new UsageError(`incident ${t.incidentId} was decided by someone else a moment ago`, { hint: '`hindsight-force triage list` shows where it is' });
      }
      this.candidates.deleteEnvelope(t.envelopeId);
      this.review.deleteEnvelope(t.envelopeId);
      this.subjects.deleteEnvelope(t.envelopeId);
      files.deleteEnvelope(t.envelopeId);
      this.incidents.delete(t.envelopeId);
      this.d.audit.append({ actor: by, action: `triage.${state}`, objectIds: [t.incidentId, t.envelopeId], justification: reason, detail: { subjects } });
      this.d.audit.append({ actor: by, action: 'evidence.deleted', objectIds: [t.incidentId, t.envelopeId], sha256s: hashes, justification: reason, detail: { files: hashes.length, subjects, embeddings: subjects, why: state } });
    })();
    if (stored) rmSync(stored.dir, { recursive: true, force: true });
    purgeDeleted(this.d.db);
  }

  private item(t: TriageRow): QueueItem | undefined {
    const stored = this.incidents.get(t.envelopeId);
    if (!stored) return undefined;
    return {
      envelopeId: t.envelopeId,
      incidentId: t.incidentId,
      deviceId: t.deviceId,
      store: stored.store,
      window: { start: stored.window_start, end: stored.window_end },
      receivedUtc: t.receivedUtc,
      subjects: this.subjects.ofEnvelope(t.envelopeId).length,
      deleteAtUtc: t.receivedUtc + Math.min(this.d.policy.triageMaxDays, 31) * DAY_MS,
    };
  }
}

const actorName = (a: AuditActor): string => `${a.type}:${a.id}`;
const NO_CANDIDATE = 'no gallery photo at or above the threshold';
const noGalleryOf = (model: string): string => `the gallery has no photo embedded with this subject's model (${model}): run \`hindsight-force gallery reembed\`, then search again`;
const round = (x: number): number => Math.round(x * 1000) / 1000;
