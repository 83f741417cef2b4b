import type { Db } from '../../db/db.js';
import { statement } from '../../db/statements.js';

/** A custody photo in the reference gallery, with its embedding (float32 little-endian, L2-normalised). */
export interface GalleryPhoto {
  photoId: string;
  personRef: string;
  /** The photo's file name as the custody manifest gives it. */
  file: string;
  sha256: string;
  /** The force's own copy (for reviewers, and to embed again after a model change). */
  storedPath: string;
  captured: string;
  source: string;
  model: string;
  embedding: Buffer;
  faceScore: number;
  addedUtc: number;
}

interface PhotoRow {
  photo_id: string;
  person_ref: string;
  file: string;
  sha256: string;
  stored_path: string;
  captured: string;
  source: string;
  model: string;
  embedding: Buffer;
  face_score: number;
  added_utc: number;
}

const PHOTO_COLUMNS = 'photo_id, person_ref, file, sha256, stored_path, captured, source, model, embedding, face_score, added_utc';

function fromRow(r: PhotoRow): GalleryPhoto {
  return { photoId: r.photo_id, personRef: r.person_ref, file: r.file, sha256: r.sha256, storedPath: r.stored_path, captured: r.captured, source: r.source, model: r.model, embedding: r.embedding, faceScore: r.face_score, addedUtc: r.added_utc };
}

/** What the search index holds of a photo: its key (see the force migrations), id, person and embedding. */
export interface IndexEntry {
  key: number;
  photoId: string;
  personRef: string;
  embedding: Buffer;
}

interface IndexEntryRow {
  index_key: number;
  photo_id: string;
  person_ref: string;
  embedding: Buffer;
}

const fromEntryRow = (r: IndexEntryRow): IndexEntry => ({ key: r.index_key, photoId: r.photo_id, personRef: r.person_ref, embedding: r.embedding });

export interface GalleryPerson {
  personRef: string;
  photos: number;
  addedUtc: number;
  updatedUtc: number;
}

/** The force's reference gallery: custody persons and their photos' embeddings. */
export class GalleryRepo {
  constructor(private readonly db: Db) {}

  upsertPerson(personRef: string, nowUtc: number): void {
    statement(this.db, 'INSERT INTO gallery_persons (person_ref, added_utc, updated_utc) VALUES (?, ?, ?) ON CONFLICT (person_ref) DO UPDATE SET updated_utc = excluded.updated_utc').run(personRef, nowUtc, nowUtc);
  }

  addPhoto(p: GalleryPhoto): void {
    statement(this.db, `INSERT INTO gallery_photos (${PHOTO_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
      p.photoId,
      p.personRef,
      p.file,
      p.sha256,
      p.storedPath,
      p.captured,
      p.source,
      p.model,
      p.embedding,
      p.faceScore,
      p.addedUtc,
    );
  }

  photo(personRef: string, file: string): GalleryPhoto | undefined {
    const r = statement(this.db, `SELECT ${PHOTO_COLUMNS} FROM gallery_photos WHERE person_ref = ? AND file = ?`).get(personRef, file) as PhotoRow | undefined;
    return r && fromRow(r);
  }

  photoById(photoId: string): GalleryPhoto | undefined {
    const r = statement(this.db, `SELECT ${PHOTO_COLUMNS} FROM gallery_photos WHERE photo_id = ?`).get(photoId) as PhotoRow | undefined;
    return r && fromRow(r);
  }

  photosOf(personRef: string): GalleryPhoto[] {
    return (statement(this.db, `SELECT ${PHOTO_COLUMNS} FROM gallery_photos WHERE person_ref = ? ORDER BY added_utc, file`).all(personRef) as PhotoRow[]).map(fromRow);
  }

  /** Every photo embedded by `model` (what a search compares), or by any other model (what needs embedding again). */
  photosByModel(model: string, same = true): GalleryPhoto[] {
    return (statement(this.db, `SELECT ${PHOTO_COLUMNS} FROM gallery_photos WHERE model ${same ? '=' : '!='} ?`).all(model) as PhotoRow[]).map(fromRow);
  }

  /** Just what a search reads: each photo's id, person and embedding for one model. */
  embeddings(model: string): { photoId: string; personRef: string; embedding: Buffer }[] {
    return (statement(this.db, 'SELECT photo_id, person_ref, embedding FROM gallery_photos WHERE model = ?').all(model) as { photo_id: string; person_ref: string; embedding: Buffer }[]).map((r) => ({
      photoId: r.photo_id,
      personRef: r.person_ref,
      embedding: r.embedding,
    }));
  }

  /** The gallery's generation: bumped (by triggers) in the transaction of every change to a photo. */
  generation(): number {
    return statement(this.db, 'SELECT generation FROM gallery_generation WHERE id = 1').pluck().get() as number;
  }

  /** The models the gallery's photos are embedded with. */
  models(): string[] {
    return statement(this.db, 'SELECT DISTINCT model FROM gallery_photos').pluck().all() as string[];
  }

  /** The index keys of every photo embedded by `model`, ascending. */
  indexKeys(model: string): number[] {
    return statement(this.db, 'SELECT index_key FROM gallery_photos WHERE model = ? ORDER BY index_key').pluck().all(model) as number[];
  }

  /** Each photo of `model` with its index key and embedding, one at a time (a gallery may not fit in memory twice). */
  *indexEntries(model: string): Generator<IndexEntry> {
    for (const r of statement(this.db, 'SELECT index_key, photo_id, person_ref, embedding FROM gallery_photos WHERE model = ?').iterate(model) as Iterable<IndexEntryRow>) yield fromEntryRow(r);
  }

  /** The photos of `model` with these index keys, as the database holds them now (a deleted one is absent). */
  byIndexKeys(model: string, keys: readonly number[]): IndexEntry[] {
    if (!keys.length) return [];
    // `+model`: look the keys up by their own index, never by scanning every photo of the model
    return (statement(this.db, 'SELECT index_key, photo_id, person_ref, embedding FROM gallery_photos WHERE index_key IN (SELECT value FROM json_each(?)) AND +model = ?').all(JSON.stringify(keys), model) as IndexEntryRow[]).map(fromEntryRow);
  }

  setEmbedding(photoId: string, model: string, embedding: Buffer, faceScore: number): void {
    statement(this.db, 'UPDATE gallery_photos SET model = ?, embedding = ?, face_score = ? WHERE photo_id = ?').run(model, embedding, faceScore, photoId);
  }

  persons(): GalleryPerson[] {
    return statement(
      this.db,
      `SELECT p.person_ref AS personRef, p.added_utc AS addedUtc, p.updated_utc AS updatedUtc, (SELECT COUNT(*) FROM gallery_photos g WHERE g.person_ref = p.person_ref) AS photos
       FROM gallery_persons p ORDER BY p.person_ref`,
    ).all() as GalleryPerson[];
  }

  hasPerson(personRef: string): boolean {
    return statement(this.db, 'SELECT 1 FROM gallery_persons WHERE person_ref = ?').get(personRef) !== undefined;
  }

  setDetails(photoId: string, captured: string, source: string): void {
    statement(this.db, 'UPDATE gallery_photos SET captured = ?, source = ? WHERE photo_id = ?').run(captured, source, photoId);
  }

  /** A photo replaced by a new one of the same person and file: gone, and candidate lists point at the new one. */
  replacePhoto(oldId: string, newId: string): void {
    statement(this.db, 'DELETE FROM gallery_photos WHERE photo_id = ?').run(oldId);
    statement(this.db, 'UPDATE candidates SET photo_id = ? WHERE photo_id = ?').run(newId, oldId);
  }

  deletePhoto(photoId: string): void {
    statement(this.db, 'DELETE FROM gallery_photos WHERE photo_id = ?').run(photoId);
  }

  /** A person, every photo and embedding; and their place in any candidate list. */
  deletePerson(personRef: string): void {
    statement(this.db, 'DELETE FROM candidates WHERE person_ref = ?').run(personRef);
    statement(this.db, 'DELETE FROM gallery_photos WHERE person_ref = ?').run(personRef);
    statement(this.db, 'DELETE FROM gallery_persons WHERE person_ref = ?').run(personRef);
  }

  /** Whether any photo still points at the force's copy `storedPath` (copies are shared by content). */
  usesStoredPath(storedPath: string): boolean {
    return statement(this.db, 'SELECT 1 FROM gallery_photos WHERE stored_path = ? LIMIT 1').get(storedPath) !== undefined;
  }

  counts(): { persons: number; photos: number } {
    const persons = statement(this.db, 'SELECT COUNT(*) FROM gallery_persons').pluck().get() as number;
    const photos = statement(this.db, 'SELECT COUNT(*) FROM gallery_photos').pluck().get() as number;
    return { persons, photos };
  }
}
