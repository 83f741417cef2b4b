import { Type } from '@sinclair/typebox';
import type { AuditLog } from '../../audit/log.js';
import { actorOf } from '../../https/accounts.js';
import { WebError } from '../../https/error.js';
import { isoUtc } from '../../util/clock.js';
import type { TriageRow } from '../db/triage.js';
import type { QueueItem, SubjectCandidates, Workbench } from '../workbench.js';
import { pictureUrl, sendImage, type FacePictures } from './evidence-files.js';
import { found } from './found.js';
import { consoleRoute, type ConsoleRoute } from './route.js';
import { closed, FileName, Id, Reason } from './schemas.js';

const Params = Type.Object({ id: Id }, closed);

/** What the triage queue shows of an incident: where and when, never a face. */
function queueView(i: QueueItem): Record<string, unknown> {
  return {
    envelope: i.envelopeId,
    incident: i.incidentId,
    device: i.deviceId,
    store: i.store,
    window: { from: isoUtc(i.window.start), to: isoUtc(i.window.end) },
    received: isoUtc(i.receivedUtc),
    subjects: i.subjects,
    delete_at: isoUtc(i.deleteAtUtc),
  };
}

const listsView = (lists: SubjectCandidates[]): unknown =>
  lists.map((l) => ({ subject: l.subjectId, candidates: l.candidates.map((c) => ({ rank: c.rank, person: c.personRef, score: c.score })), note: l.note ?? null }));

/**
 * Triage, for supervisors (the officers who decide whether a search is necessary): the queue (no faces),
 * opening an incident (audited: it shows its subjects' crops, each look at one audited again), and
 * accepting it with a crime reference, the necessity and the subjects, or rejecting it (its evidence is
 * deleted). Every rule is the workbench's.
 */
export function triageApi(d: { workbench: Workbench; pictures: FacePictures; audit: AuditLog }): ConsoleRoute[] {
  // the triage page shows every person of an incident while it waits; once decided, its case shows only
  // those chosen for search, and a rejected one has nothing left to show
  const waiting = (id: string): TriageRow => {
    const t = found(d.workbench, id);
    if (t.state !== 'untriaged') throw new WebError(409, `incident ${t.incidentId} is already ${t.state}`, { code: 'triaged', hint: t.state === 'accepted' ? 'its case is under Cases' : 'its evidence is deleted' });
    return t;
  };
  return [
    consoleRoute({
      method: 'GET',
      url: '/api/v1/triage',
      access: 'supervisor',
      summary: 'The incidents waiting for triage, oldest first: where and when, how many people, when each is deleted if nobody triages it (no faces).',
      handler: () => ({ incidents: d.workbench.queue().map(queueView) }),
    }),
    consoleRoute({
      method: 'GET',
      url: '/api/v1/triage/:id',
      access: 'supervisor',
      summary: 'Open an incident waiting for triage: its subjects and the addresses of their crops (audited: triage.opened).',
      schema: { params: Params },
      handler: ({ caller, params }) => {
        const i = d.workbench.open(waiting(params.id!).envelopeId, actorOf(caller!.account));
        const { crops, context } = d.pictures.names(i.envelopeId);
        return {
          incident: {
            ...queueView(i),
            state: i.state,
            context: context.map((n) => pictureUrl('triage', i.envelopeId, n)),
            subjects: i.subjectList.map((s) => ({ id: s.subjectId, cameras: s.cameras, searchable: s.searchable, crops: (crops.get(s.subjectId) ?? []).map((n) => pictureUrl('triage', i.envelopeId, n)) })),
          },
        };
      },
    }),
    consoleRoute({
      method: 'GET',
      url: '/api/v1/triage/:id/images/:file',
      access: 'supervisor',
      summary: 'One crop or context frame of an incident waiting for triage (audited: face.viewed).',
      schema: { params: Type.Object({ id: Id, file: FileName }, closed) },
      handler: ({ caller, params, reply }) => {
        const t = waiting(params.id!);
        const p = d.pictures.picture(t.envelopeId, params.file!);
        d.audit.append({
          actor: actorOf(caller!.account),
          action: 'face.viewed',
          objectIds: [t.incidentId, t.envelopeId, ...(p.subjectId ? [p.subjectId] : [])],
          sha256s: [p.sha256],
          justification: 'triage: deciding whether a search is necessary',
          detail: { crime_ref: null, file: p.name, kind: p.kind },
        });
        return sendImage(reply, p.path);
      },
    }),
    consoleRoute<{ crime_ref: string; necessity: string; subjects: string[] }>({
      method: 'POST',
      url: '/api/v1/triage/:id/accept',
      access: 'supervisor',
      summary: "Accept an incident for search: the force's crime reference, why a search is necessary and proportionate, and the subjects to search; each is searched against the custody gallery now (audited).",
      schema: {
        params: Params,
        body: Type.Object({ crime_ref: Type.String({ minLength: 1, maxLength: 40 }), necessity: Reason, subjects: Type.Array(Id, { minItems: 1, maxItems: 100 }) }, closed),
      },
      handler: ({ caller, params, body }) => {
        const t = found(d.workbench, params.id!);
        const lists = d.workbench.accept(t.envelopeId, { crimeRef: body.crime_ref, necessity: body.necessity, subjects: body.subjects }, actorOf(caller!.account));
        return { accepted: { envelope: t.envelopeId, incident: t.incidentId, crime_ref: body.crime_ref.trim() }, lists: listsView(lists) };
      },
    }),
    consoleRoute<{ reason: string }>({
      method: 'POST',
      url: '/api/v1/triage/:id/reject',
      access: 'supervisor',
      summary: 'Reject an incident: nothing is searched and its evidence is deleted now, with a deletion receipt in the audit log.',
      schema: { params: Params, body: Type.Object({ reason: Reason }, closed) },
      handler: ({ caller, params, body }) => {
        const t = found(d.workbench, params.id!);
        d.workbench.reject(t.envelopeId, body.reason, actorOf(caller!.account));
        return { rejected: { envelope: t.envelopeId, incident: t.incidentId } };
      },
    }),
  ];
}
