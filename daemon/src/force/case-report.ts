import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AuditActor, AuditLog, AuditRow } from '../audit/log.js';
import type { Db } from '../db/db.js';
import { UsageError } from '../util/errors.js';
import { FilesRepo } from './db/files.js';
import { GalleryRepo } from './db/gallery.js';
import { IncidentsRepo } from './db/incidents.js';
import { SubjectsRepo } from './db/subjects.js';
import type { Workbench } from './workbench.js';

/**
 * The investigating officer's case report: one self-contained HTML file (images inline, no script) with the
 * incident, the crime reference and why a search was necessary, each searched subject's crops beside its
 * candidates' gallery photos and scores, every reviewer's decision, the evidence hashes and the audit
 * trail of the incident. Candidates are proposals; the report says so on every subject.
 */
export function caseReport(d: { db: Db; audit: AuditLog; workbench: Workbench; now: number }, id: string, by: AuditActor): string {
  const t = d.workbench.resolve(id);
  if (t.state !== 'accepted') throw new UsageError(`incident ${t.incidentId} is ${t.state}: a case report is made for an accepted incident`);
  const stored = new IncidentsRepo(d.db).get(t.envelopeId)!;
  const files = new FilesRepo(d.db);
  const gallery = new GalleryRepo(d.db);
  const subjects = new SubjectsRepo(d.db).ofEnvelope(t.envelopeId);
  const { lists } = d.workbench.candidateLists(id, by);
  const review = d.workbench.reviewOf(id);
  const img = (file: string | undefined, alt: string): string => {
    if (!file) return `<p class="muted">(${esc(alt)}: no image kept)</p>`;
    try {
      const type = /\.png$/i.test(file) ? 'image/png' : 'image/jpeg';
      return `<img alt="${esc(alt)}" src="data:${type};base64,${readFileSync(file).toString('base64')}">`;
    } catch {
      return `<p class="muted">(${esc(alt)}: the file is no longer there)</p>`;
    }
  };
  const sections = t.subjects.map((sid) => {
    const s = subjects.find((x) => x.subjectId === sid);
    const list = lists.find((l) => l.subjectId === sid)?.candidates ?? [];
    const r = review.subjects.find((x) => x.subjectId === sid);
    const crops = (s?.crops ?? []).slice(0, 3).map((c) => img(files.pathOf(t.envelopeId, c), `crop ${c} of subject ${sid}`)).join('');
    const candidates = list.length
      ? list.map((c) => `<tr><td>${c.rank}</td><td>${esc(c.personRef)}</td><td>${c.score.toFixed(3)}</td><td>${img(gallery.photoById(c.photoId)?.storedPath, `gallery photo of ${c.personRef}`)}</td></tr>`).join('')
      : '<tr><td colspan="4">No gallery photo at or above the threshold.</td></tr>';
    const decisions = r?.decisions.length
      ? r.decisions.map((x) => `<tr><td>${esc(x.reviewer)}</td><td>${esc(x.decision.replace('_', ' '))}</td><td>${esc(x.personRef ?? '-')}</td><td>${iso(x.decidedUtc)}</td><td>${esc(x.reason)}</td></tr>`).join('')
      : '<tr><td colspan="5">Not reviewed.</td></tr>';
    return `<section><h2>Subject ${esc(sid)}${s ? ` (cameras ${esc(s.cameras.join(', ') || '-')})` : ''}</h2>
<p class="note">Candidates are proposals from the custody gallery for trained reviewers, never identifications.</p>
<div class="crops">${crops || '<p class="muted">(no crop kept)</p>'}</div>
<h3>Candidates</h3><table><tr><th>Rank</th><th>Person</th><th>Score</th><th>Gallery photo</th></tr>${candidates}</table>
<h3>Decisions</h3><table><tr><th>Reviewer</th><th>Decision</th><th>Person</th><th>When (UTC)</th><th>Why</th></tr>${decisions}</table>
<p><strong>${r?.confirmed ? `Possible match with ${esc(r.confirmed)}, confirmed by two reviewers.` : 'No possible match confirmed by two reviewers.'}</strong></p></section>`;
  });
  const trail = Array.from(d.audit.rows()).filter((row) => row.object_ids.includes(t.incidentId) || row.object_ids.includes(t.envelopeId));
  const hashes = files.ofEnvelope(t.envelopeId);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Case report ${esc(t.crimeRef ?? '')} - incident ${esc(t.incidentId)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#14202b}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #c9d1d9;padding:4px 8px;text-align:left;vertical-align:top;font-size:14px}img{max-width:160px;max-height:160px;margin:4px;border:1px solid #c9d1d9}.note{color:#8c1d18;font-weight:600}.muted{color:#51606e}code{font-size:12px;word-break:break-all}</style></head><body>
<h1>Case report: ${esc(t.crimeRef ?? '')}</h1>
<table>
<tr><th>Incident</th><td>${esc(t.incidentId)} (envelope ${esc(t.envelopeId)})</td></tr>
<tr><th>Shop</th><td>${esc(stored.store)} (box ${esc(stored.device_id)})</td></tr>
<tr><th>Footage window (UTC)</th><td>${iso(stored.window_start)} to ${iso(stored.window_end)}</td></tr>
<tr><th>Received by the force</th><td>${iso(stored.received_utc)}</td></tr>
<tr><th>Accepted for search</th><td>${t.decidedUtc ? iso(t.decidedUtc) : '-'} by ${esc(t.decidedBy ?? '-')}</td></tr>
<tr><th>Why a search was necessary</th><td>${esc(t.necessity ?? '')}</td></tr>
<tr><th>Report made</th><td>${iso(d.now)}</td></tr>
</table>
${sections.join('\n')}
<section><h2>Evidence hashes (SHA-256)</h2><table><tr><th>File</th><th>SHA-256</th></tr>${hashes.map((f) => `<tr><td>${esc(path.basename(f.name))}</td><td><code>${esc(f.sha256)}</code></td></tr>`).join('')}</table></section>
<section><h2>Audit trail of this incident</h2><table><tr><th>#</th><th>When (UTC)</th><th>Who</th><th>What</th><th>Why</th><th>Row hash</th></tr>${trail.map(auditRow).join('')}</table>
<p class="muted">Each row's hash chains to the one before it in the force's audit log.</p></section>
</body></html>
`;
}

function auditRow(r: AuditRow): string {
  return `<tr><td>${r.seq}</td><td>${iso(r.ts_utc)}</td><td>${esc(`${r.actor.type} ${r.actor.id}`)}</td><td>${esc(r.action)}</td><td>${esc(r.justification ?? '')}</td><td><code>${esc(r.hash.slice(0, 16))}</code></td></tr>`;
}

const iso = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
