import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Index, MetricKind, ScalarKind } from 'usearch';
import type { Logger } from '../log/logger.js';
import { errorMessage } from '../util/errors.js';
import { ensurePrivateDir, writeFileAtomic } from '../util/secure-fs.js';
import type { GalleryRepo, IndexEntry } from './db/gallery.js';
import { toFloat32 } from './search.js';

/**
 * The gallery's approximate nearest-neighbour index (usearch HNSW, inner product on the L2-normalised
 * embeddings, stored as float16), one per model. It only proposes a shortlist of photo keys: the caller
 * reads those rows from the database again and scores them exactly, so a photo deleted by any process is
 * never returned and the scores are the exact ones.
 *
 * On disk, in the force's `gallery/index/`, three files per model: `<slug>.usearch` (the graph and the
 * vectors), `<slug>.keys` (the keys it holds, uint64 little-endian) and `<slug>.json`, the header, written
 * last: format, model, gallery generation, dimensions, counts and the SHA-256 of the other two. An index
 * is loaded only when its header is whole and names this model, format and dimensions and both files
 * match their hashes (a truncated or altered file would crash the native loader); otherwise it is built
 * again from the database, with a log line saying why. One whose generation is behind the database's is
 * caught up (the photos added and removed since) rather than rebuilt.
 *
 * Deleted means gone here too: a removed vector's slot is filled at once with a zero placeholder (keys
 * from PLACEHOLDER_BASE up, never a photo's), so no removed embedding stays in memory's free slots or in
 * the saved file; a new photo takes a placeholder's slot before the index grows.
 */

export interface GalleryIndexOptions {
  /** Folder of the index files (created 0700). */
  dir: string;
  /** Below this many photos of a model a search compares every photo exactly and no index is kept. */
  minPhotos: number;
  /** Photos the index proposes for exact re-ranking (at least the persons wanted). */
  shortlist: number;
  /** HNSW search breadth (usearch `expansion_search`). */
  expansion: number;
  log?: Logger | undefined;
}

/** The on-disk format; a header of another format is rebuilt. */
const FORMAT = 1;
const CONNECTIVITY = 16;
const EXPANSION_ADD = 128;
/** Keys of zero-vector placeholders filling removed slots: above every photo's key. */
export const PLACEHOLDER_BASE = 2n ** 62n;
const BUILD_BATCH = 4096;

interface Header {
  format: number;
  model: string;
  generation: number;
  dimensions: number;
  photos: number;
  placeholders: number;
  index_sha256: string;
  keys_sha256: string;
}

interface Loaded {
  index: Index;
  model: string;
  dimensions: number;
  generation: number;
  keys: Set<number>;
  placeholders: number;
}

export class GalleryIndex {
  private readonly loaded = new Map<string, Loaded>();
  /** Models found below `minPhotos`, at which generation: no need to count them again until it changes. */
  private readonly small = new Map<string, number>();

  constructor(
    private readonly repo: GalleryRepo,
    private readonly o: GalleryIndexOptions,
  ) {}

  /**
   * The keys of up to `shortlist` photos of `model` nearest to `probe`, and how many photos the index
   * holds; undefined when the gallery of that model is below `minPhotos` or of other dimensions than the
   * probe (the caller then compares exactly). Catches up with the database first when it has changed.
   */
  shortlist(probe: Float32Array, model: string, wanted: number): { keys: number[]; photos: number } | undefined {
    const ix = this.current(model);
    if (!ix || ix.dimensions !== probe.length) return undefined;
    const k = Math.min(Math.max(this.o.shortlist, wanted), ix.index.size());
    if (k === 0) return { keys: [], photos: 0 };
    const found = ix.index.search(probe, k, 1);
    const keys: number[] = [];
    for (const key of found.keys) if (key < PLACEHOLDER_BASE) keys.push(Number(key));
    return { keys, photos: ix.keys.size };
  }

  /**
   * At start, and after this process changed the gallery: the index of every model, in the database, loaded
   * or only on disk, is loaded or built and catches up with the database and is saved, so a deleted
   * embedding leaves the index file at once, not at the next search.
   */
  refresh(): void {
    const models = new Set([...this.repo.models(), ...this.loaded.keys(), ...this.modelsOnDisk()]);
    for (const model of models) this.current(model);
  }

  /** The index of `model`, in step with the database (loaded, built or caught up as needed). */
  private current(model: string): Loaded | undefined {
    let ix = this.loaded.get(model);
    const generation = this.repo.generation();
    if (ix && ix.generation === generation) return ix;
    if (!ix && this.small.get(model) === generation) return undefined;
    const keys = this.repo.indexKeys(model);
    if (keys.length === 0 || keys.length < this.o.minPhotos) {
      if (ix || this.headerOf(model)) this.drop(model, `the gallery has ${keys.length} photo(s) of the model, below gallery.index_min_photos (${this.o.minPhotos}): exact search`);
      this.small.set(model, generation);
      return undefined;
    }
    this.small.delete(model);
    let changed = false;
    if (!ix) {
      ix = this.load(model, keys);
      if (!ix) {
        ix = this.build(model, generation);
        changed = true;
      }
      this.loaded.set(model, ix);
    }
    if (ix.generation !== generation) changed = this.catchUp(ix, keys, generation) || changed;
    if (changed) this.save(ix);
    return ix;
  }

  /** Add what the database has and the index lacks, remove what it no longer has. */
  private catchUp(ix: Loaded, keys: number[], generation: number): boolean {
    const inDb = new Set(keys);
    const gone = [...ix.keys].filter((k) => !inDb.has(k));
    const added = keys.filter((k) => !ix.keys.has(k));
    for (const key of gone) this.remove(ix, key);
    for (let i = 0; i < added.length; i += BUILD_BATCH) {
      for (const e of this.repo.byIndexKeys(ix.model, added.slice(i, i + BUILD_BATCH))) this.addOne(ix, e);
    }
    ix.generation = generation;
    if (gone.length || added.length) this.o.log?.info({ model: ix.model, added: added.length, removed: gone.length, generation }, 'gallery index caught up with the database');
    return gone.length > 0 || added.length > 0;
  }

  private addOne(ix: Loaded, e: IndexEntry): void {
    const v = toFloat32(e.embedding);
    if (v.length !== ix.dimensions) return;
    if (ix.placeholders > 0) {
      // the placeholder's slot is the only free one, so the new vector lands in it
      ix.index.remove(PLACEHOLDER_BASE + BigInt(--ix.placeholders));
    }
    ix.index.add(BigInt(e.key), v, 1);
    ix.keys.add(e.key);
  }

  /** Remove a photo's vector and overwrite its slot with zeros (a placeholder) at once. */
  private remove(ix: Loaded, key: number): void {
    ix.index.remove(BigInt(key));
    ix.index.add(PLACEHOLDER_BASE + BigInt(ix.placeholders++), new Float32Array(ix.dimensions), 1);
    ix.keys.delete(key);
  }

  private build(model: string, generation: number): Loaded {
    const started = performance.now();
    let dimensions = 0;
    let index: Index | undefined;
    const keys = new Set<number>();
    let skipped = 0;
    let batchKeys: bigint[] = [];
    let batch: Float32Array[] = [];
    const flush = (): void => {
      if (!batch.length || !index) return;
      const flat = new Float32Array(batch.length * dimensions);
      batch.forEach((v, i) => flat.set(v, i * dimensions));
      index.add(BigUint64Array.from(batchKeys), flat, 0);
      batchKeys = [];
      batch = [];
    };
    for (const e of this.repo.indexEntries(model)) {
      const v = toFloat32(e.embedding);
      if (!index) {
        dimensions = v.length;
        index = this.newIndex(dimensions);
      }
      if (v.length !== dimensions) {
        skipped++;
        continue;
      }
      batchKeys.push(BigInt(e.key));
      batch.push(v);
      keys.add(e.key);
      if (batch.length === BUILD_BATCH) flush();
    }
    flush();
    const ix: Loaded = { index: index ?? this.newIndex(1), model, dimensions, generation, keys, placeholders: 0 };
    this.o.log?.info({ model, photos: keys.size, skipped_other_dimensions: skipped, seconds: +((performance.now() - started) / 1000).toFixed(1) }, 'gallery index built');
    return ix;
  }

  /** The saved index of `model` if it is whole and of this model and format; undefined (with the reason logged) otherwise. */
  private load(model: string, keysInDb: number[]): Loaded | undefined {
    const files = this.files(model);
    const header = this.headerOf(model);
    const rebuild = (why: string): undefined => {
      this.o.log?.warn({ model, dir: this.o.dir }, `gallery index: ${why}; building it again from the database`);
      return undefined;
    };
    if (header === undefined) return rebuild('no saved index');
    if ('error' in header) return rebuild(header.error);
    const dims = keysInDb.length ? this.dimensionsInDb(model, keysInDb) : header.dimensions;
    if (header.dimensions !== dims) return rebuild(`the saved index has ${header.dimensions} dimensions, the gallery's embeddings ${dims}`);
    let keyBytes: Buffer;
    let indexSha256: string;
    try {
      keyBytes = readFileSync(files.keys);
      indexSha256 = fileSha256(files.index);
    } catch (err) {
      return rebuild(`cannot read it: ${errorMessage(err)}`);
    }
    // checked before the native loader sees it: a truncated or altered file can crash that loader
    if (indexSha256 !== header.index_sha256 || sha256(keyBytes) !== header.keys_sha256) return rebuild('a file of the saved index does not match its header (truncated, altered or half-written)');
    if (keyBytes.length !== header.photos * 8) return rebuild('the key list does not match the header');
    const index = this.newIndex(header.dimensions);
    try {
      index.load(files.index);
    } catch (err) {
      return rebuild(`the index file cannot be loaded: ${errorMessage(err)}`);
    }
    if (index.dimensions() !== header.dimensions || index.size() !== header.photos + header.placeholders) return rebuild('the index file does not hold what its header says');
    const keys = new Set<number>();
    for (let i = 0; i < header.photos; i++) keys.add(Number(keyBytes.readBigUInt64LE(i * 8)));
    this.o.log?.info({ model, photos: keys.size, generation: header.generation }, 'gallery index loaded');
    return { index, model, dimensions: header.dimensions, generation: header.generation, keys, placeholders: header.placeholders };
  }

  private dimensionsInDb(model: string, keys: number[]): number {
    const [e] = this.repo.byIndexKeys(model, [keys[0]!]);
    return e ? e.embedding.length / 4 : 0;
  }

  /** Index and keys first, then the header naming their hashes: a crash between leaves a mismatch, rebuilt. */
  private save(ix: Loaded): void {
    const files = this.files(ix.model);
    ensurePrivateDir(this.o.dir);
    const tmp = `${files.index}.${process.pid}.tmp`;
    ix.index.save(tmp);
    renameSync(tmp, files.index);
    const keys = Buffer.alloc(ix.keys.size * 8);
    let i = 0;
    for (const k of ix.keys) keys.writeBigUInt64LE(BigInt(k), 8 * i++);
    writeFileAtomic(files.keys, keys);
    const header: Header = {
      format: FORMAT,
      model: ix.model,
      generation: ix.generation,
      dimensions: ix.dimensions,
      photos: ix.keys.size,
      placeholders: ix.placeholders,
      index_sha256: fileSha256(files.index),
      keys_sha256: sha256(keys),
    };
    writeFileAtomic(files.header, JSON.stringify(header) + '\n');
  }

  private drop(model: string, why: string): void {
    this.loaded.delete(model);
    for (const f of Object.values(this.files(model))) rmSync(f, { force: true });
    this.o.log?.info({ model }, `gallery index removed: ${why}`);
  }

  private headerOf(model: string): Header | { error: string } | undefined {
    let text: string;
    try {
      text = readFileSync(this.files(model).header, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      return { error: `its header cannot be read: ${errorMessage(err)}` };
    }
    let h: Partial<Header>;
    try {
      h = JSON.parse(text) as Partial<Header>;
    } catch {
      return { error: 'its header is not JSON (corrupt or truncated)' };
    }
    if (h.format !== FORMAT) return { error: `its header is of format ${JSON.stringify(h.format)}, not ${FORMAT}` };
    if (h.model !== model) return { error: `its header names the model ${JSON.stringify(h.model)}, not ${JSON.stringify(model)}` };
    const ints = [h.generation, h.dimensions, h.photos, h.placeholders];
    if (!ints.every((n) => Number.isSafeInteger(n) && n! >= 0) || typeof h.index_sha256 !== 'string' || typeof h.keys_sha256 !== 'string') return { error: 'its header is incomplete' };
    return h as Header;
  }

  /** Models with a header on disk (their files are named by a hash of the model, the header names it). */
  private modelsOnDisk(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.o.dir).filter((n) => n.endsWith('.json'));
    } catch {
      return [];
    }
    const models: string[] = [];
    for (const n of names) {
      try {
        const { model } = JSON.parse(readFileSync(path.join(this.o.dir, n), 'utf8')) as { model?: unknown };
        if (typeof model === 'string' && this.files(model).header === path.join(this.o.dir, n)) models.push(model);
      } catch {
        // an unreadable header is rebuilt when its model is searched
      }
    }
    return models;
  }

  private newIndex(dimensions: number): Index {
    return new Index({ dimensions, metric: MetricKind.IP, quantization: ScalarKind.F16, connectivity: CONNECTIVITY, expansion_add: EXPANSION_ADD, expansion_search: this.o.expansion, multi: false });
  }

  private files(model: string): { index: string; keys: string; header: string } {
    const slug = createHash('sha256').update(model).digest('hex').slice(0, 16);
    const base = path.join(this.o.dir, slug);
    return { index: `${base}.usearch`, keys: `${base}.keys`, header: `${base}.json` };
  }
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A file's SHA-256, read in pieces (an index of a million photos is a gigabyte). */
function fileSha256(file: string): string {
  const hash = createHash('sha256');
  const buf = Buffer.alloc(8 << 20);
  const fd = openSync(file, 'r');
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}
