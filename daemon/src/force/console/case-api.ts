import { Type } from '@sinclair/typebox';
import type { AuditLog } from '../../audit/log.js';
import { sha256Hex } from '../../crypto/encoding.js';
import type { Db } from '../../db/db.js';
import { actorOf } from '../../https/accounts.js';
import { WebError } from '../../https/error.js';
import type { Clock } from '../../util/clock.js';
import { caseReport } from '../case-report.js';
import { CandidatesRepo } from '../db/candidates.js';
import { GalleryRepo } from '../db/gallery.js';
import { ReviewRepo, type Decision } from '../db/review.js';
import type { Workbench } from '../workbench.js';
import { Cases, decisionView, reviewerKey } from './cases.js';
import { sendImage, type FacePictures } from './evidence-files.js';
import { found } from './found.js';
import { consoleRoute, type ConsoleRoute } from './route.js';
import { closed, FileName, Id, Reason } from './schemas.js';

const DECISIONS: readonly Decision[] = ['possible_match', 'no_match', 'not_usable'];
const Params = Type.Object({ id: Id }, closed);

export interface CaseApiDeps {
  db: Db;
  audit: AuditLog;
  clock: Clock;
  workbench: Workbench;
  pictures: FacePictures;
  /** Account ids to names (decisions name the reviewer's account). */
  names: () => Map<string, string>;
}

/**
 * Review, for reviewers: the case queue, one case (its candidate lists; audited), each face picture and
 * candidate photo (each look audited with the crime reference), and their decision per subject (a
 * possible match is shown as one only when a second, different reviewer names the same person). The case
 * report, for the supervisor who investigates (audited with its SHA-256).
 */
export function caseApi(d: CaseApiDeps): ConsoleRoute[] {
  const cases = new Cases(d);
  const gallery = new GalleryRepo(d.db);
  const candidates = new CandidatesRepo(d.db);
  const accepted = (id: string) => {
    const t = found(d.workbench, id);
    if (t.state !== 'accepted') throw new WebError(404, `incident ${t.incidentId} is not a case (it is ${t.state})`, { code: 'not_a_case', hint: 'a supervisor accepts it at triage first' });
    return t;
  };
  return [
    consoleRoute({
      method: 'GET',
      url: '/api/v1/cases',
      access: 'reviewer',
      summary: 'The accepted incidents (cases), oldest first: crime reference, how many candidates each searched subject has, and where the review stands (no names, no faces).',
      handler: () => ({ cases: cases.queue() }),
    }),
    consoleRoute({
      method: 'GET',
      url: '/api/v1/cases/:id',
      access: 'reviewer',
      summary: "One case: each searched subject's crops, its candidates with their scores, and every decision (audited: candidates.viewed).",
      schema: { params: Params },
      handler: ({ caller, params }) => ({ case: cases.open(accepted(params.id!).envelopeId, actorOf(caller!.account)) }),
    }),
    consoleRoute({
      method: 'GET',
      url: '/api/v1/cases/:id/images/:file',
      access: 'reviewer',
      summary: "One crop or context frame of a case (audited: face.viewed, with the reviewer and the crime reference).",
      schema: { params: Type.Object({ id: Id, file: FileName }, closed) },
      handler: ({ caller, params, reply }) => {
        const t = accepted(params.id!);
        const p = d.pictures.picture(t.envelopeId, params.file!);
        if (p.subjectId !== undefined && !t.subjects.includes(p.subjectId)) throw new WebError(404, 'this subject was not chosen for search', { code: 'not_found' });
        d.audit.append({
          actor: actorOf(caller!.account),
          action: 'face.viewed',
          objectIds: [t.incidentId, t.envelopeId, ...(p.subjectId ? [p.subjectId] : [])],
          sha256s: [p.sha256],
          justification: t.necessity ?? undefined,
          detail: { crime_ref: t.crimeRef, file: p.name, kind: p.kind },
        });
        return sendImage(reply, p.path);
      },
    }),
    consoleRoute({
      method: 'GET',
      url: '/api/v1/cases/:id/photos/:photo',
      access: 'reviewer',
      summary: "A candidate's custody photo, only as a candidate of this case (audited: gallery.photo_viewed, with the crime reference).",
      schema: { params: Type.Object({ id: Id, photo: Id }, closed) },
      handler: ({ caller, params, reply }) => {
        const t = accepted(params.id!);
        const c = candidates.ofEnvelope(t.envelopeId).find((x) => x.photoId === params.photo);
        const photo = c && gallery.photoById(c.photoId);
        if (!c || !photo) throw new WebError(404, 'no such candidate photo in this case', { code: 'not_found' });
        d.audit.append({
          actor: actorOf(caller!.account),
          action: 'gallery.photo_viewed',
          objectIds: [t.incidentId, t.envelopeId, c.subjectId, c.personRef, c.photoId],
          sha256s: [photo.sha256],
          justification: t.necessity ?? undefined,
          detail: { crime_ref: t.crimeRef, rank: c.rank },
        });
        return sendImage(reply, photo.storedPath);
      },
    }),
    consoleRoute<{ subject: string; decision: Decision; person?: string; reason: string }>({
      method: 'POST',
      url: '/api/v1/cases/:id/decisions',
      access: 'reviewer',
      summary: 'Record your decision on a searched subject: possible_match (naming one of its candidates), no_match or not_usable, with why (audited: review.decided).',
      schema: {
        params: Params,
        body: Type.Object(
          { subject: Id, decision: Type.Unsafe<Decision>({ type: 'string', enum: [...DECISIONS] }), person: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })), reason: Reason },
          closed,
        ),
      },
      handler: ({ caller, params, body }) => {
        const t = accepted(params.id!);
        const by = actorOf(caller!.account);
        const r = d.workbench.decide(t.envelopeId, { subjectId: body.subject, decision: body.decision, personRef: body.person, reason: body.reason }, by);
        const names = d.names();
        return { subject: body.subject, decisions: r.decisions.map((x) => decisionView(x, names, reviewerKey(by))), confirmed: r.confirmed ?? null };
      },
    }),
    consoleRoute({
      method: 'GET',
      url: '/api/v1/cases/:id/report',
      access: 'supervisor',
      summary: "The investigating officer's case report: one self-contained HTML file (a download) with the crops, candidates and scores, every decision, the evidence hashes and the audit trail (audited: case.exported with its SHA-256).",
      schema: { params: Params },
      handler: ({ caller, params, reply }) => {
        const t = accepted(params.id!);
        const by = actorOf(caller!.account);
        const html = caseReport({ db: d.db, audit: d.audit, workbench: d.workbench, now: d.clock.now() }, t.envelopeId, by);
        const bytes = Buffer.from(html);
        const file = `case-${(t.crimeRef ?? 'report').replace(/[^A-Za-z0-9_-]+/g, '-')}-${t.incidentId.replace(/[^A-Za-z0-9_-]+/g, '-')}.html`;
        d.audit.append({ actor: by, action: 'case.exported', objectIds: [t.incidentId, t.envelopeId], sha256s: [sha256Hex(bytes)], detail: { crime_ref: t.crimeRef, file, bytes: bytes.length, via: 'console' } });
        return reply.type('text/html; charset=utf-8').header('content-disposition', `attachment; filename="${file}"`).send(bytes);
      },
    }),
    consoleRoute({
      method: 'GET',
      url: '/api/v1/series',
      access: 'reviewer',
      summary: 'Series: subjects of accepted incidents that look like the same unknown person, with their cases, shops and days ("seen at 3 shops in 14 days"); audited (series.viewed).',
      handler: ({ caller }) => {
        const links = new ReviewRepo(d.db).links();
        const key = (x: { envelopeId: string; subjectId: string }): string => `${x.envelopeId}/${x.subjectId}`;
        const list = d.workbench.series().map((g) => ({
          stores: g.stores,
          days: g.days,
          // the links that make the series: each can be split on its own
          links: links
            .filter((l) => g.members.some((m) => key(m) === key(l.a)) && g.members.some((m) => key(m) === key(l.b)))
            .map((l) => ({ a: { envelope: l.a.envelopeId, subject: l.a.subjectId }, b: { envelope: l.b.envelopeId, subject: l.b.subjectId }, score: Math.round(l.score * 1000) / 1000 })),
          members: g.members.map((m) => ({ envelope: m.envelopeId, subject: m.subjectId, incident: m.incidentId, store: m.store, first_seen: new Date(m.firstSeen).toISOString(), crime_ref: d.workbench.resolve(m.envelopeId).crimeRef })),
        }));
        d.audit.append({ actor: actorOf(caller!.account), action: 'series.viewed', detail: { series: list.length } });
        return { series: list };
      },
    }),
    consoleRoute<{ a: { envelope: string; subject: string }; b: { envelope: string; subject: string }; reason: string }>({
      method: 'POST',
      url: '/api/v1/series/split',
      access: 'reviewer',
      summary: 'Split a wrong link between two subjects of a series, with the reason (it stays split; audited).',
      schema: {
        body: Type.Object(
          {
            a: Type.Object({ envelope: Id, subject: Id }, closed),
            b: Type.Object({ envelope: Id, subject: Id }, closed),
            reason: Reason,
          },
          closed,
        ),
      },
      handler: ({ caller, body }) => {
        d.workbench.splitSeries({ envelopeId: body.a.envelope, subjectId: body.a.subject }, { envelopeId: body.b.envelope, subjectId: body.b.subject }, body.reason, actorOf(caller!.account));
        return { series: d.workbench.series().length };
      },
    }),
  ];
}
