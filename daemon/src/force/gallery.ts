import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { AuditActor, AuditLog } from '../audit/log.js';
import { sha256Hex } from '../crypto/encoding.js';
import type { Db } from '../db/db.js';
import type { Clock } from '../util/clock.js';
import { errorMessage, UsageError } from '../util/errors.js';
import { newId } from '../util/ids.js';
import { createExclusiveFile, ensurePrivateDir, resolveInside } from '../util/secure-fs.js';
import { GalleryRepo, type GalleryPhoto } from './db/gallery.js';
import type { PhotoEmbedder } from './embedder.js';
import { GalleryIndex, type GalleryIndexOptions } from './gallery-index.js';
import { purgeDeleted } from './db/purge.js';
import { toFloat32 } from './search.js';

/**
 * The force's reference gallery (custody images): imported from a folder and a CSV manifest, kept in step
 * with the custody system by `sync`, each photo through the boxes' detector, quality gate and embedder.
 * A photo that fails is reported with the reason and never kept. Embeddings are stored per model: a
 * search compares only the same model's, and `reembed` brings the gallery to the current model from the
 * force's own copy of each photo.
 */

/** One line of a custody manifest (CSV: person_ref,photo_file,capture_date,source). */
export interface ManifestRow {
  line: number;
  personRef: string;
  file: string;
  captured: string;
  source: string;
}

export interface ImportReport {
  added: number;
  updated: number;
  unchanged: number;
  /** Photos removed (sync only: no longer in the custody manifest), and persons left without a photo. */
  removedPhotos: number;
  removedPersons: string[];
  failed: { line: number; personRef: string; file: string; reason: string }[];
}

const PERSON_REF = /^[A-Za-z0-9][A-Za-z0-9_./-]{0,63}$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const MANIFEST_COLUMNS = ['person_ref', 'photo_file', 'capture_date', 'source'];

/** Parse a custody manifest: a header line, then one photo per line; malformed lines are reported, not guessed. */
export function parseManifest(text: string): { rows: ManifestRow[]; bad: { line: number; reason: string }[] } {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = splitCsvLine(lines[0] ?? '').map((h) => h.trim().toLowerCase());
  if (MANIFEST_COLUMNS.some((c, i) => header[i] !== c)) {
    throw new UsageError(`the manifest's first line must be the header ${MANIFEST_COLUMNS.join(',')} (it is ${JSON.stringify((lines[0] ?? '').slice(0, 100))})`, { hint: 'one photo per line after it: person reference, photo file (relative to the folder), capture date YYYY-MM-DD, source' });
  }
  const rows: ManifestRow[] = [];
  const bad: { line: number; reason: string }[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (!lines[i]!.trim()) continue;
    const cells = splitCsvLine(lines[i]!).map((c) => c.trim());
    const [personRef = '', file = '', captured = '', source = ''] = cells;
    const line = i + 1;
    if (cells.length !== 4) bad.push({ line, reason: `${cells.length} fields, expected 4` });
    else if (!PERSON_REF.test(personRef)) bad.push({ line, reason: `person reference ${JSON.stringify(personRef.slice(0, 80))} is not valid (letters, digits, . _ / -, at most 64)` });
    else if (!file || file.length > 255 || path.isAbsolute(file)) bad.push({ line, reason: `photo file ${JSON.stringify(file.slice(0, 80))} must be a path inside the folder` });
    else if (!DATE.test(captured) || Number.isNaN(Date.parse(captured))) bad.push({ line, reason: `capture date ${JSON.stringify(captured.slice(0, 40))} is not a date (YYYY-MM-DD)` });
    else if (!source || source.length > 64) bad.push({ line, reason: 'source must be given, at most 64 characters' });
    else rows.push({ line, personRef, file, captured, source });
  }
  return { rows, bad };
}

/** One CSV line (RFC 4180 quotes; no line breaks inside fields). */
function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') (cur += '"'), i++;
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') out.push(cur), (cur = '');
    else cur += c;
  }
  out.push(cur);
  return out;
}

export interface GalleryMatch {
  personRef: string;
  photoId: string;
  score: number;
}

export class Gallery {
  private readonly repo: GalleryRepo;
  private readonly index: GalleryIndex | undefined;

  /** Without `index`, every search compares every photo of the model (what small galleries and tools need). */
  constructor(private readonly d: { db: Db; audit: AuditLog; clock: Clock; photosDir: string; index?: GalleryIndexOptions }) {
    this.repo = new GalleryRepo(d.db);
    this.index = d.index && new GalleryIndex(this.repo, d.index);
  }

  /** Load (or build) the saved search index of every model now, so the first search does not wait for it. */
  loadIndex(): void {
    this.index?.refresh();
  }

  /**
   * Import the photos of a manifest from `folder`. With `sync`, the manifest is the whole custody set:
   * photos and persons it no longer lists are deleted (with deletion receipts). Each photo is read once:
   * the bytes hashed are the bytes embedded and kept.
   */
  async import(folder: string, manifestFile: string, embedder: PhotoEmbedder, by: AuditActor, options: { sync: boolean; onProgress?: (done: number, total: number) => void }): Promise<ImportReport> {
    const manifestBytes = readFileSync(manifestFile);
    const { rows, bad } = parseManifest(manifestBytes.toString('utf8'));
    const report: ImportReport = { added: 0, updated: 0, unchanged: 0, removedPhotos: 0, removedPersons: [], failed: bad.map((b) => ({ line: b.line, personRef: '', file: '', reason: b.reason })) };
    const seen = new Set<string>();
    ensurePrivateDir(this.d.photosDir);
    let done = 0;
    for (const row of rows) {
      options.onProgress?.(done++, rows.length);
      const key = `${row.personRef}\0${row.file}`;
      if (seen.has(key)) {
        report.failed.push({ line: row.line, personRef: row.personRef, file: row.file, reason: 'listed twice' });
        continue;
      }
      seen.add(key);
      let bytes: Buffer;
      try {
        bytes = readFileSync(resolveInside(folder, row.file));
      } catch (err) {
        report.failed.push({ line: row.line, personRef: row.personRef, file: row.file, reason: `cannot read it: ${errorMessage(err)}` });
        continue;
      }
      const sha256 = sha256Hex(bytes);
      const old = this.repo.photo(row.personRef, row.file);
      if (old && old.sha256 === sha256 && old.model === embedder.model) {
        if (old.captured === row.captured && old.source === row.source) report.unchanged++;
        else {
          this.repo.setDetails(old.photoId, row.captured, row.source);
          report.updated++;
        }
        continue;
      }
      const face = await embedder.embedPhoto(row.file, bytes, 'centre');
      if ('reason' in face) {
        // the custody system no longer holds the photo the gallery had: it goes, the new one is not kept
        if (old) this.deletePhotos([old], 'replaced by a custody photo that failed the checks', by);
        report.failed.push({ line: row.line, personRef: row.personRef, file: row.file, reason: old ? `${face.reason} (the previous photo was removed)` : face.reason });
        continue;
      }
      const storedPath = this.keepCopy(sha256, row.file, bytes);
      const now = this.d.clock.now();
      const photoId = newId();
      this.d.db.transaction(() => {
        if (old) this.repo.replacePhoto(old.photoId, photoId);
        this.repo.upsertPerson(row.personRef, now);
        this.repo.addPhoto({ photoId, personRef: row.personRef, file: row.file, sha256, storedPath, captured: row.captured, source: row.source, model: embedder.model, embedding: Buffer.from(face.embedding.buffer, face.embedding.byteOffset, face.embedding.byteLength), faceScore: face.score, addedUtc: now });
      })();
      if (old) {
        report.updated++;
        this.dropCopyIfUnused(old);
      } else report.added++;
    }
    options.onProgress?.(rows.length, rows.length);
    if (options.sync) {
      // what the custody system no longer holds goes: photos not listed, then persons left without one
      const listedPersons = new Set(rows.map((r) => r.personRef));
      for (const person of this.repo.persons()) {
        const photos = this.repo.photosOf(person.personRef);
        const gone = photos.filter((p) => !seen.has(`${p.personRef}\0${p.file}`));
        if (!listedPersons.has(person.personRef) || gone.length === photos.length) {
          this.removePerson(person.personRef, 'no longer in the custody manifest (sync)', by);
          report.removedPersons.push(person.personRef);
          report.removedPhotos += photos.length;
        } else if (gone.length) {
          this.deletePhotos(gone, 'no longer in the custody manifest (sync)', by);
          report.removedPhotos += gone.length;
        }
      }
    }
    report.failed.sort((a, b) => a.line - b.line);
    purgeDeleted(this.d.db); // replaced photos' old embeddings
    this.index?.refresh();
    this.d.audit.append({
      actor: by,
      action: options.sync ? 'gallery.synced' : 'gallery.imported',
      sha256s: [sha256Hex(manifestBytes)],
      detail: { folder: path.resolve(folder), manifest: path.resolve(manifestFile), model: embedder.model, added: report.added, updated: report.updated, unchanged: report.unchanged, removed_photos: report.removedPhotos, removed_persons: report.removedPersons.length, failed: report.failed.length },
    });
    return report;
  }

  /**
   * The gallery persons closest to a probe: each person's best photo, the top `top` at or above
   * `threshold`, same model only. Proposals for a person to review, never an identification.
   */
  search(probe: Float32Array, model: string, top: number, threshold: number): GalleryMatch[] {
    return this.searchCounted(probe, model, top, threshold).matches;
  }

  /**
   * `search`, and how many gallery photos of the model were compared (0: none of that model). At or above
   * the configured size the index proposes a shortlist, whose rows are read again from the database and
   * scored exactly: a photo deleted meanwhile, by this process or another, is never returned.
   */
  searchCounted(probe: Float32Array, model: string, top: number, threshold: number): { matches: GalleryMatch[]; compared: number } {
    const short = this.index?.shortlist(probe, model, top);
    const entries = short ? this.repo.byIndexKeys(model, short.keys) : this.repo.embeddings(model);
    const best = new Map<string, GalleryMatch>();
    let compared = 0;
    for (const p of entries) {
      const e = toFloat32(p.embedding);
      if (e.length !== probe.length) continue;
      compared++;
      let dot = 0;
      for (let i = 0; i < e.length; i++) dot += e[i]! * probe[i]!;
      const seen = best.get(p.personRef);
      if (!seen || dot > seen.score) best.set(p.personRef, { personRef: p.personRef, photoId: p.photoId, score: dot });
    }
    return { matches: [...best.values()].filter((m) => m.score >= threshold).sort((a, b) => b.score - a.score).slice(0, top), compared: short ? short.photos : compared };
  }

  /** A person, every photo (the force's copies too) and embedding, gone; the audit row is the deletion receipt. */
  deletePerson(personRef: string, reason: string, by: AuditActor): { photos: number } {
    const r = this.removePerson(personRef, reason, by);
    this.index?.refresh();
    return r;
  }

  private removePerson(personRef: string, reason: string, by: AuditActor): { photos: number } {
    const photos = this.repo.photosOf(personRef);
    if (!this.repo.hasPerson(personRef)) throw new UsageError(`no person ${JSON.stringify(personRef)} in the gallery`, { hint: '`hindsight-force gallery list` shows who is in it' });
    this.d.db.transaction(() => {
      this.repo.deletePerson(personRef);
      this.d.audit.append({ actor: by, action: 'gallery.person_deleted', objectIds: [personRef], sha256s: photos.map((p) => p.sha256), justification: reason, detail: { photos: photos.length, embeddings: photos.length } });
    })();
    for (const p of photos) this.dropCopyIfUnused(p);
    purgeDeleted(this.d.db);
    return { photos: photos.length };
  }

  private deletePhotos(photos: GalleryPhoto[], reason: string, by: AuditActor): void {
    this.d.db.transaction(() => {
      for (const p of photos) this.repo.deletePhoto(p.photoId);
      this.d.audit.append({ actor: by, action: 'gallery.photos_deleted', objectIds: [photos[0]!.personRef], sha256s: photos.map((p) => p.sha256), justification: reason, detail: { photos: photos.length } });
    })();
    for (const p of photos) this.dropCopyIfUnused(p);
    purgeDeleted(this.d.db);
  }

  /** Embed again every photo of another model, from the force's copy (after the boxes' model changed). */
  async reembed(embedder: PhotoEmbedder, by: AuditActor): Promise<{ reembedded: number; failed: { personRef: string; file: string; reason: string }[] }> {
    const stale = this.repo.photosByModel(embedder.model, false);
    const failed: { personRef: string; file: string; reason: string }[] = [];
    let n = 0;
    for (const p of stale) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(p.storedPath);
      } catch (err) {
        failed.push({ personRef: p.personRef, file: p.file, reason: `the force's copy cannot be read: ${errorMessage(err)}` });
        continue;
      }
      const face = await embedder.embedPhoto(p.file, bytes, 'centre');
      if ('reason' in face) {
        failed.push({ personRef: p.personRef, file: p.file, reason: face.reason });
        continue;
      }
      this.repo.setEmbedding(p.photoId, embedder.model, Buffer.from(face.embedding.buffer, face.embedding.byteOffset, face.embedding.byteLength), face.score);
      n++;
    }
    this.d.audit.append({ actor: by, action: 'gallery.reembedded', detail: { model: embedder.model, reembedded: n, failed: failed.length } });
    purgeDeleted(this.d.db);
    this.index?.refresh();
    return { reembedded: n, failed };
  }

  /** The force's own copy of a custody photo, by content (0600). */
  private keepCopy(sha256: string, file: string, bytes: Buffer): string {
    const ext = (path.extname(file).toLowerCase().match(/^\.[a-z0-9]{1,5}$/) ?? ['.img'])[0];
    const out = path.join(this.d.photosDir, `${sha256}${ext}`);
    try {
      createExclusiveFile(out, bytes);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    return out;
  }

  private dropCopyIfUnused(p: GalleryPhoto): void {
    if (!this.repo.usesStoredPath(p.storedPath)) rmSync(p.storedPath, { force: true });
  }
}
