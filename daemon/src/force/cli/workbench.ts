import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { sha256Hex } from '../../crypto/encoding.js';
import { intOption } from '../../program/args.js';
import { table } from '../../program/output.js';
import { systemClock } from '../../util/clock.js';
import { errorMessage, HindsightError, UsageError } from '../../util/errors.js';
import { GalleryRepo } from '../db/gallery.js';
import { loadPhotoEmbedder, loadProbeEmbedder } from '../embedder.js';
import { requireJustification } from '../justification.js';
import { caseReport } from '../case-report.js';
import { createExclusiveFile } from '../../util/secure-fs.js';
import path from 'node:path';
import { openGallery, openWorkbench } from '../workbench-setup.js';
import type { SubjectCandidates } from '../workbench.js';
import type { Decision } from '../db/review.js';
import { FORCE_CONFIG_OPTION, loadForceConfig } from './config-option.js';
import type { ForceConfig } from '../config.js';
import { withForceSession, type ForceSession } from './session.js';

const time = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
const out = (text: string): void => void process.stdout.write(text);

/** The options every workbench command takes: the force config, and --json where it prints something. */
const common = (cmd: Command, json = true): Command => (json ? cmd.option(...FORCE_CONFIG_OPTION).option('--json', 'machine-readable output') : cmd.option(...FORCE_CONFIG_OPTION));

/** Run `fn` on the force database of the config the command names (opened for it, closed after). */
async function onForce<T>(opts: { config?: string }, fn: (fdb: ForceSession, config: ForceConfig) => T | Promise<T>): Promise<T> {
  const config = loadForceConfig(opts.config);
  return withForceSession(config.force.dir, (fdb) => fn(fdb, config));
}

/** The answer: JSON with --json, else the text. */
const answer = (opts: { json?: boolean }, value: unknown, text: () => string): void => out(opts.json ? JSON.stringify(value, null, 2) + '\n' : text());

function listsText(lists: SubjectCandidates[]): string {
  return lists
    .map((l) => `subject ${l.subjectId}: ${l.candidates.length ? `${l.candidates.length} candidate(s) to review (proposals, not identifications)` : l.note ?? 'no candidate'}\n` + (l.candidates.length ? table(['rank', 'person', 'score', 'photo'], l.candidates.map((c) => [String(c.rank), c.personRef, c.score.toFixed(3), c.photoId])) : ''))
    .join('');
}

/** The workbench's commands: the custody gallery, triage, and candidate lists. */
export function registerForceWorkbench(force: Command): void {
  const gallery = force.command('gallery').description('the reference gallery of custody images: import, sync, list, show, delete, search');

  const importAction = (sync: boolean) => async (opts: { config?: string; folder: string; manifest: string; json?: boolean }) => {
    const config = loadForceConfig(opts.config);
    const embedder = await loadPhotoEmbedder();
    try {
      await withForceSession(config.force.dir, async (fdb) => {
        let last = Date.now();
        const report = await openGallery(config, fdb, systemClock).import(opts.folder, opts.manifest, embedder, fdb.actor, {
          sync,
          onProgress: (done, total) => {
            if (opts.json || Date.now() - last < 2000) return;
            last = Date.now();
            process.stderr.write(`  ${done} of ${total} photos\n`);
          },
        });
        if (opts.json) return out(JSON.stringify(report, null, 2) + '\n');
        out(`gallery ${sync ? 'synced' : 'imported'}: ${report.added} added, ${report.updated} updated, ${report.unchanged} unchanged${sync ? `, ${report.removedPhotos} photo(s) and ${report.removedPersons.length} person(s) removed` : ''}, ${report.failed.length} not kept (model ${embedder.model})\n`);
        if (report.failed.length) {
          out('not kept (fix the photo or the line, then import again):\n');
          out(table(['line', 'person', 'file', 'why'], report.failed.map((f) => [String(f.line), f.personRef || '-', f.file || '-', f.reason])));
          process.exitCode = 1;
        }
      });
    } finally {
      await embedder.release();
    }
  };

  for (const sync of [false, true]) {
    gallery
      .command(sync ? 'sync' : 'import')
      .description(
        sync
          ? 'bring the gallery in step with the custody system: the manifest is the whole set (new photos added, changed ones embedded again, photos and persons no longer listed deleted with deletion receipts)'
          : 'add custody photos from a folder and a CSV manifest (person_ref,photo_file,capture_date,source); each goes through the boxes\' detector, quality gate and embedder; photos that fail are listed with the reason and not kept',
      )
      .option(...FORCE_CONFIG_OPTION)
      .requiredOption('--folder <dir>', 'folder holding the photos (paths in the manifest are relative to it)')
      .requiredOption('--manifest <csv>', 'the custody manifest (CSV with a header line)')
      .option('--json', 'machine-readable report')
      .action(importAction(sync));
  }

  common(gallery.command('list').description('the persons in the gallery, with their number of photos')).action((opts: { config?: string; json?: boolean }) =>
    onForce(opts, (fdb) => {
      const persons = new GalleryRepo(fdb.db).persons();
      answer(opts, persons, () => (persons.length ? table(['person', 'photos', 'added', 'updated'], persons.map((p) => [p.personRef, String(p.photos), time(p.addedUtc), time(p.updatedUtc)])) : 'the gallery is empty: `hindsight-force gallery import --folder DIR --manifest CSV`\n'));
    }),
  );

  common(gallery.command('show').description("one person's photos: file, capture date, source, hash, model (never the embedding)").argument('<person>', 'person reference')).action((person: string, opts: { config?: string; json?: boolean }) =>
    onForce(opts, (fdb) => {
      const photos = new GalleryRepo(fdb.db).photosOf(person).map(({ embedding: _e, ...p }) => p);
      if (!photos.length) throw new UsageError(`no person ${JSON.stringify(person.slice(0, 80))} in the gallery`, { hint: '`hindsight-force gallery list` shows who is in it' });
      answer(opts, photos, () => table(['photo', 'file', 'captured', 'source', 'sha256', 'model'], photos.map((p) => [p.photoId, p.file, p.captured, p.source, p.sha256.slice(0, 16), p.model])));
    }),
  );

  gallery
    .command('delete')
    .description('delete a person: every photo, the force\'s copies and every embedding, and their place in candidate lists (a deletion receipt in the audit log)')
    .argument('<person>', 'person reference')
    .option(...FORCE_CONFIG_OPTION)
    .option('--reason <text>', 'why, in at least three words (required; audited)')
    .action(async (person: string, opts: { config?: string; reason?: string }) => {
      const reason = requireJustification(opts.reason);
      await onForce(opts, (fdb, config) => {
        const r = openGallery(config, fdb, systemClock).deletePerson(person, reason, fdb.actor);
        out(`person ${person} deleted: ${r.photos} photo(s) and their embeddings; the deletion receipt is in the audit log\n`);
      });
    });

  gallery
    .command('reembed')
    .description("embed again every photo made with another model, from the force's own copy (after the boxes' face model changed)")
    .option(...FORCE_CONFIG_OPTION)
    .action(async (opts: { config?: string }) => {
      const config = loadForceConfig(opts.config);
      const embedder = await loadPhotoEmbedder();
      try {
        await withForceSession(config.force.dir, async (fdb) => {
          const r = await openGallery(config, fdb, systemClock).reembed(embedder, fdb.actor);
          out(`${r.reembedded} photo(s) embedded again with ${embedder.model}${r.failed.length ? `; ${r.failed.length} failed:` : ''}\n`);
          if (r.failed.length) {
            out(table(['person', 'file', 'why'], r.failed.map((f) => [f.personRef, f.file, f.reason])));
            process.exitCode = 1;
          }
        });
      } finally {
        await embedder.release();
      }
    });

  gallery
    .command('search')
    .description('rank the gallery against a probe photo (for investigators and tests): candidates above the threshold, proposals only')
    .option(...FORCE_CONFIG_OPTION)
    .requiredOption('--image <file>', 'probe photo')
    .option('--reason <text>', "why this search is made, in at least three words (required; audited with the probe's SHA-256)")
    .option('--top <n>', 'how many candidates (default: workbench.candidates_top_k)', intOption('--top', 1, 1000))
    .option('--json', 'machine-readable output')
    .action(async (opts: { config?: string; image: string; reason?: string; top?: number; json?: boolean }) => {
      const reason = requireJustification(opts.reason);
      const config = loadForceConfig(opts.config);
      let bytes: Buffer;
      try {
        bytes = readFileSync(opts.image);
      } catch (err) {
        throw new HindsightError(`cannot read the probe file ${opts.image}: ${errorMessage(err)}`, { code: 'bad_probe', hint: 'check the path' });
      }
      const embedder = await loadProbeEmbedder();
      let probe: Float32Array;
      try {
        probe = await embedder.embedProbe(opts.image, bytes);
      } finally {
        await embedder.release();
      }
      const top = opts.top ?? config.workbench.candidates_top_k;
      await withForceSession(config.force.dir, (fdb) => {
        const matches = openGallery(config, fdb, systemClock).search(probe, embedder.model, top, config.workbench.candidate_threshold);
        fdb.audit.append({ actor: fdb.actor, action: 'gallery.searched', objectIds: matches.map((m) => m.personRef), sha256s: [sha256Hex(bytes)], justification: reason, detail: { probe: 'image', candidates: matches.length, threshold: config.workbench.candidate_threshold, top, model: embedder.model } });
        if (opts.json) return out(JSON.stringify({ threshold: config.workbench.candidate_threshold, model: embedder.model, candidates: matches.map((m, i) => ({ rank: i + 1, ...m })) }, null, 2) + '\n');
        out(matches.length ? table(['rank', 'person', 'score', 'photo'], matches.map((m, i) => [String(i + 1), m.personRef, m.score.toFixed(3), m.photoId])) : `no gallery photo at or above the threshold ${config.workbench.candidate_threshold}\n`);
      });
    });

  const triage = force.command('triage').description('incidents waiting for an officer: nothing of them is searched until one is accepted with a crime reference');

  common(triage.command('list').description('the incidents waiting for triage, oldest first, and when each is deleted if nobody triages it (no faces shown)')).action((opts: { config?: string; json?: boolean }) =>
    onForce(opts, (fdb, config) => {
      const q = openWorkbench(config, fdb, systemClock).queue();
      answer(opts, q, () =>
        q.length ? table(['received', 'store', 'device', 'incident', 'window', 'subjects', 'deleted if untriaged'], q.map((i) => [time(i.receivedUtc), i.store, i.deviceId, i.incidentId, `${time(i.window.start)} +${Math.round((i.window.end - i.window.start) / 1000)} s`, String(i.subjects), time(i.deleteAtUtc)])) : 'no incident waits for triage\n',
      );
    }),
  );

  common(triage.command('open').description('open an incident to triage it: its subjects and the files of their crops (audited: it shows faces)').argument('<id>', 'incident id or envelope id')).action((id: string, opts: { config?: string; json?: boolean }) =>
    onForce(opts, (fdb, config) => {
      const i = openWorkbench(config, fdb, systemClock).open(id, fdb.actor);
      answer(opts, i, () =>
        `incident ${i.incidentId} from ${i.store} (${i.deviceId}), ${i.state}; window ${time(i.window.start)} .. ${time(i.window.end)} UTC; evidence in ${i.dir}\n` +
        table(['subject', 'cameras', 'crops', 'searchable'], i.subjectList.map((s) => [s.subjectId, s.cameras.join(',') || '-', s.crops.join(' '), s.searchable ? 'yes' : 'no (crops only)'])),
      );
    }),
  );

  triage
    .command('accept')
    .description('accept an incident for search: the crime reference, why a search is necessary, the subjects to search; each is searched against the gallery now')
    .argument('<id>', 'incident id or envelope id')
    .option(...FORCE_CONFIG_OPTION)
    .requiredOption('--crime-ref <ref>', "the force's crime reference")
    .option('--necessity <text>', 'why a search is necessary and proportionate, in at least three words (required; audited)')
    .option('--subjects <ids>', 'the subjects to search, comma separated (see `triage open`)')
    .option('--all-subjects', 'search every subject that can be searched')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { config?: string; crimeRef: string; necessity?: string; subjects?: string; allSubjects?: boolean; json?: boolean }) => {
      if (!opts.subjects === !opts.allSubjects) throw new UsageError('say which subjects to search: --subjects S1,S2 or --all-subjects', { hint: '`hindsight-force triage open ID` lists them' });
      await onForce(opts, (fdb, config) => {
        const subjects = opts.allSubjects ? ('all' as const) : opts.subjects!.split(',').map((s) => s.trim()).filter(Boolean);
        const lists = openWorkbench(config, fdb, systemClock).accept(id, { crimeRef: opts.crimeRef, necessity: opts.necessity ?? '', subjects }, fdb.actor);
        answer(opts, lists, () => `accepted under ${opts.crimeRef.trim()}; ${lists.length} subject(s) searched against the gallery\n${listsText(lists)}`);
      });
    });

  triage
    .command('reject')
    .description('reject an incident: nothing is searched, its evidence is deleted now (a deletion receipt in the audit log)')
    .argument('<id>', 'incident id or envelope id')
    .option(...FORCE_CONFIG_OPTION)
    .option('--reason <text>', 'why, in at least three words (required; audited)')
    .action((id: string, opts: { config?: string; reason?: string }) =>
      onForce(opts, (fdb, config) => {
        openWorkbench(config, fdb, systemClock).reject(id, opts.reason ?? '', fdb.actor);
        out('incident rejected; its evidence is deleted and the deletion receipt is in the audit log\n');
      }),
    );

  triage
    .command('expire')
    .description(`delete now the incidents nobody triaged within workbench.triage_max_days (the receiver does it every hour)`)
    .option(...FORCE_CONFIG_OPTION)
    .action((opts: { config?: string }) =>
      onForce(opts, (fdb, config) => {
        const n = openWorkbench(config, fdb, systemClock).expireDue();
        out(`${n} incident(s) past their triage time deleted\n`);
      }),
    );

  common(force.command('candidates').description("an accepted incident's candidate lists: gallery persons proposed for each searched subject, for trained reviewers (audited)").argument('<id>', 'incident id or envelope id')).action(
    (id: string, opts: { config?: string; json?: boolean }) =>
      onForce(opts, (fdb, config) => {
        const { triage: t, lists } = openWorkbench(config, fdb, systemClock).candidateLists(id, fdb.actor);
        answer(opts, { incident: t.incidentId, crime_ref: t.crimeRef, lists }, () => `incident ${t.incidentId}, crime reference ${t.crimeRef}, accepted ${t.decidedUtc ? time(t.decidedUtc) : '-'} by ${t.decidedBy}\n${listsText(lists)}`);
      }),
  );

  force
    .command('report')
    .description("the investigating officer's case report of an accepted incident: one HTML file with crops, candidates and scores, every decision, the evidence hashes and the audit trail (audited)")
    .argument('<id>', 'incident id or envelope id')
    .option(...FORCE_CONFIG_OPTION)
    .requiredOption('-o, --out <file>', 'the HTML file to write (never overwritten; 0600)')
    .action((id: string, opts: { config?: string; out: string }) =>
      onForce(opts, (fdb, config) => {
        const html = caseReport({ db: fdb.db, audit: fdb.audit, workbench: openWorkbench(config, fdb, systemClock), now: systemClock.now() }, id, fdb.actor);
        try {
          createExclusiveFile(opts.out, html);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'EEXIST') throw new UsageError(`${opts.out} already exists: a case report is never written over`, { hint: 'give a new file name' });
          throw new HindsightError(`cannot write ${opts.out}: ${errorMessage(err)}`, { code: 'write_failed', hint: 'check the folder exists and you may write there' });
        }
        const t = openWorkbench(config, fdb, systemClock).resolve(id);
        fdb.audit.append({ actor: fdb.actor, action: 'case.exported', objectIds: [t.incidentId, t.envelopeId], sha256s: [sha256Hex(Buffer.from(html))], detail: { crime_ref: t.crimeRef, file: path.resolve(opts.out), bytes: Buffer.byteLength(html) } });
        out(`case report written to ${opts.out} (${Math.ceil(Buffer.byteLength(html) / 1024)} KB; its SHA-256 is in the audit log)\n`);
      }),
    );

  const review = force.command('review').description("reviewers' decisions on searched subjects: a possible match needs a second, different reviewer to agree");

  common(
    review
      .command('decide')
      .description('record your decision on a searched subject: possible_match (naming a candidate), no_match or not_usable')
      .argument('<id>', 'incident id or envelope id')
      .requiredOption('--subject <id>', 'the subject')
      .requiredOption('--decision <decision>', 'possible_match, no_match or not_usable')
      .option('--person <ref>', 'the candidate a possible match names')
      .option('--reason <text>', 'why, in at least three words (required; audited)'),
  ).action((id: string, opts: { config?: string; json?: boolean; subject: string; decision: string; person?: string; reason?: string }) =>
    onForce(opts, (fdb, config) => {
      const r = openWorkbench(config, fdb, systemClock).decide(id, { subjectId: opts.subject, decision: opts.decision as Decision, personRef: opts.person, reason: opts.reason ?? '' }, fdb.actor);
      answer(opts, r, () => `decision recorded for subject ${opts.subject}${r.confirmed ? `; possible match with ${r.confirmed} confirmed by two reviewers` : opts.decision === 'possible_match' ? '; a second, different reviewer must agree before it is shown as a possible match' : ''}\n`);
    }),
  );

  common(review.command('show').description("every reviewer's decision on an accepted incident's subjects, and the confirmed possible matches").argument('<id>', 'incident id or envelope id')).action((id: string, opts: { config?: string; json?: boolean }) =>
    onForce(opts, (fdb, config) => {
      const r = openWorkbench(config, fdb, systemClock).reviewOf(id);
      answer(opts, r, () =>
        r.subjects
          .map((s) => `subject ${s.subjectId}: ${s.confirmed ? `possible match with ${s.confirmed} (confirmed)` : s.decisions.length ? 'not confirmed' : 'not reviewed yet'}\n` + (s.decisions.length ? table(['reviewer', 'decision', 'person', 'when', 'why'], s.decisions.map((d) => [d.reviewer, d.decision, d.personRef ?? '-', time(d.decidedUtc), d.reason])) : ''))
          .join(''),
      );
    }),
  );

  const series = force.command('series').description('subjects of accepted incidents that look like the same unknown person, across shops');

  common(series.command('list').description('each series: its incidents and stores, and the days it spans')).action((opts: { config?: string; json?: boolean }) =>
    onForce(opts, (fdb, config) => {
      const list = openWorkbench(config, fdb, systemClock).series();
      fdb.audit.append({ actor: fdb.actor, action: 'series.viewed', detail: { series: list.length } });
      answer(opts, list, () =>
        list.length
          ? list.map((g, i) => `series ${i + 1}: seen at ${g.stores} shop(s) in ${g.days} day(s)\n` + table(['incident', 'store', 'subject', 'first seen'], g.members.map((m) => [m.incidentId, m.store, `${m.envelopeId}/${m.subjectId}`, time(m.firstSeen)]))).join('')
          : 'no series: no two searched subjects look alike\n',
      );
    }),
  );

  common(series.command('split').description('split a wrong link between two subjects (it stays split)').argument('<a>', 'ENVELOPE/SUBJECT').argument('<b>', 'ENVELOPE/SUBJECT').option('--reason <text>', 'why, in at least three words (required; audited)'), false).action(
    (a: string, b: string, opts: { config?: string; reason?: string }) =>
      onForce(opts, (fdb, config) => {
        const parse = (x: string): { envelopeId: string; subjectId: string } => {
          const m = /^([^/]+)\/([^/]+)$/.exec(x);
          if (!m) throw new UsageError(`${JSON.stringify(x.slice(0, 80))} is not ENVELOPE/SUBJECT`, { hint: '`hindsight-force series list` prints them in that form' });
          return { envelopeId: m[1]!, subjectId: m[2]! };
        };
        openWorkbench(config, fdb, systemClock).splitSeries(parse(a), parse(b), opts.reason ?? '', fdb.actor);
        out('link split\n');
      }),
  );
}
