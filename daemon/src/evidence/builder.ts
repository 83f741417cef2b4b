import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { sha256Hex } from '../crypto/encoding.js';
import type { KeyPairFile } from '../crypto/keys.js';
import type { ClockState } from '../util/clock-sync.js';
import { assertSafeId } from '../util/ids.js';
import { encodePackage, PackageError, type PackageFile, type PackageManifest, type SubjectRecord } from './package.js';

/**
 * Builds an evidence package from files on disk. The incident pipeline gives a `PackageInput`; until
 * it exists, `packageInputFromFolder` reads a folder laid out as
 *   clips/<camera>.<ext>          master clips (hashed, not sent)
 *   crops/<subject>/<n>.jpg       best face crops per subject
 *   embeddings/<subject>.f32      one float32 little-endian embedding per subject (optional)
 *   context/<name>.jpg            context frames (optional)
 */

export interface CropInput {
  path: string;
  camera?: string;
}

export interface SubjectInput {
  id: string;
  crops: CropInput[];
  embedding?: Float32Array;
  /** The file the embedding came from, deleted with the other working files after delivery. */
  embeddingPath?: string;
  firstSeen?: number;
  lastSeen?: number;
}

export interface PackageInput {
  incidentId: string;
  deviceId: string;
  store: string;
  window: { start: number; end: number };
  cameras: { id: string; coverage?: number | null; gaps?: { start: number; end: number }[] }[];
  clips: { camera: string; path: string }[];
  subjects: SubjectInput[];
  contextFrames?: string[];
  /** JSON records that travel with the evidence (extraction manifest, face analysis): plain file names. */
  documents?: { name: string; path: string; mediaType: string; working: boolean }[];
  /** Embedding model name; required when any subject has an embedding. */
  embeddingModel?: string;
  models: { name: string; sha256: string }[];
  tools: Record<string, string>;
  clock: ClockState;
  now: number;
}

export interface BuiltPackage {
  plaintext: Buffer;
  manifest: PackageManifest;
  /** Plaintext working files (crops, context, embeddings) to delete once the force confirms receipt. */
  workingFiles: string[];
}

/** Read a regular file; symlinks are refused so nothing outside the evidence folder can be packed. */
function readRegular(file: string): Buffer {
  const st = lstatSync(file);
  if (!st.isFile()) throw new PackageError('not_a_file', `${file} is not a regular file (symlinks are refused)`);
  return readFileSync(file);
}

export function buildPackage(input: PackageInput, device: KeyPairFile): BuiltPackage {
  assertSafeId(input.incidentId, 'incident id');
  assertSafeId(input.deviceId, 'device id');
  const files: PackageFile[] = [];
  const data = new Map<string, Buffer>();
  const workingFiles: string[] = [];
  const add = (name: string, kind: PackageFile['kind'], mediaType: string, bytes: Buffer, source?: string): void => {
    files.push({ name, kind, media_type: mediaType, sha256: sha256Hex(bytes), bytes: bytes.length });
    data.set(name, bytes);
    if (source) workingFiles.push(source);
  };
  const subjects: SubjectRecord[] = [];
  const rows: Float32Array[] = [];
  for (const s of input.subjects) {
    assertSafeId(s.id, 'subject id');
    const crops = s.crops.map((c, i) => {
      const name = `crop_${s.id}_${i}.jpg`;
      add(name, 'crop', 'image/jpeg', readRegular(c.path), c.path);
      return name;
    });
    const record: SubjectRecord = { id: s.id, cameras: [...new Set(s.crops.map((c) => c.camera).filter((c): c is string => !!c))], crops };
    if (s.embedding) {
      record.embedding_row = rows.length;
      rows.push(s.embedding);
      if (s.embeddingPath) workingFiles.push(s.embeddingPath);
    }
    if (s.firstSeen !== undefined) record.first_seen = s.firstSeen;
    if (s.lastSeen !== undefined) record.last_seen = s.lastSeen;
    subjects.push(record);
  }
  let embeddings: PackageManifest['embeddings'] = null;
  if (rows.length) {
    const dim = rows[0]!.length;
    if (rows.some((r) => r.length !== dim)) throw new PackageError('embeddings', 'embeddings of one package must have one dimension');
    if (!input.embeddingModel) throw new PackageError('embeddings', 'embeddings need the name of the model that made them');
    const buf = Buffer.alloc(rows.length * dim * 4);
    rows.forEach((r, i) => r.forEach((x, j) => buf.writeFloatLE(x, (i * dim + j) * 4)));
    add('embeddings.f32', 'embeddings', 'application/octet-stream', buf);
    embeddings = { file: 'embeddings.f32', dim, dtype: 'float32le', model: input.embeddingModel };
  }
  (input.contextFrames ?? []).forEach((p, i) => add(`context_${i}.jpg`, 'context', 'image/jpeg', readRegular(p), p));
  for (const d of input.documents ?? []) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(d.name)) throw new PackageError('bad_name', `document name ${JSON.stringify(d.name)} is not a plain file name`);
    add(d.name, 'document', d.mediaType, readRegular(d.path), d.working ? d.path : undefined);
  }
  const clips = input.clips.map((c) => {
    assertSafeId(c.camera, 'camera id');
    const bytes = readRegular(c.path);
    return { camera: c.camera, name: path.basename(c.path), sha256: sha256Hex(bytes), bytes: bytes.length };
  });
  const manifest: PackageManifest = {
    v: 1,
    schema: 'hindsight-package/1',
    incident_id: input.incidentId,
    device_id: input.deviceId,
    store: input.store,
    created_at: input.now,
    clock: { synced: input.clock.synced, offset_ms: input.clock.offset_ms, source: input.clock.source },
    window: input.window,
    cameras: input.cameras.map((c) => ({ id: c.id, coverage: c.coverage ?? null, gaps: c.gaps ?? [] })),
    clips,
    files,
    subjects,
    embeddings,
    models: input.models,
    tools: input.tools,
  };
  return { plaintext: encodePackage(manifest, data, device), manifest, workingFiles };
}

function listDir(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** Read one float32 LE embedding file. */
export function readEmbedding(file: string): Float32Array {
  const b = readRegular(file);
  if (b.length === 0 || b.length % 4) throw new PackageError('embeddings', `${file} is not a float32 array`);
  const out = new Float32Array(b.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = b.readFloatLE(i * 4);
  return out;
}

export function packageInputFromFolder(
  dir: string,
  meta: Omit<PackageInput, 'clips' | 'subjects' | 'contextFrames' | 'cameras'> & { cameras?: PackageInput['cameras'] },
): PackageInput {
  const clips = listDir(path.join(dir, 'clips')).map((f) => ({ camera: path.parse(f).name, path: path.join(dir, 'clips', f) }));
  const subjects: SubjectInput[] = listDir(path.join(dir, 'crops')).map((id) => {
    const crops = listDir(path.join(dir, 'crops', id))
      .filter((f) => /\.jpe?g$/i.test(f))
      .map((f) => ({ path: path.join(dir, 'crops', id, f) }));
    const emb = path.join(dir, 'embeddings', `${id}.f32`);
    return { id, crops, ...(existsSync(emb) ? { embedding: readEmbedding(emb), embeddingPath: emb } : {}) };
  });
  if (subjects.length === 0 && clips.length === 0) throw new PackageError('empty', `${dir} has no clips/ or crops/ to package`);
  const contextFrames = listDir(path.join(dir, 'context')).map((f) => path.join(dir, 'context', f));
  const cameras = meta.cameras ?? clips.map((c) => ({ id: c.camera }));
  return { ...meta, cameras, clips, subjects, contextFrames };
}
