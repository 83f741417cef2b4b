import os from 'node:os';
import type { Db } from '../db/db.js';
import { FilesRepo } from './db/files.js';
import { SubjectsRepo } from './db/subjects.js';

/**
 * Linking incidents across stores: rank the stored subjects by cosine similarity to a probe embedding.
 * Only subjects an officer selected in an accepted incident are compared (triage, workbench.ts): the faces
 * of an untriaged incident are never searched. The probe comes from the same face pipeline as the boxes'
 * embeddings (same model).
 */

/** Turns a probe photo into an embedding with the boxes' embedder. The vision pipeline provides it. */
export interface ProbeEmbedder {
  /** Model name, as recorded in packages (only subjects embedded by the same model are compared). */
  readonly model: string;
  /** With `bytes`, the photo already read from `imagePath` (so the bytes hashed are the bytes embedded). */
  embedProbe(imagePath: string, bytes?: Buffer): Promise<Float32Array>;
}

export interface SearchHit {
  score: number;
  incidentId: string;
  envelopeId: string;
  deviceId: string;
  store: string;
  subjectId: string;
  cameras: string[];
  time: number;
  crop: string | null;
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na && nb ? dot / Math.sqrt(na * nb) : 0;
}

const LITTLE_ENDIAN = os.endianness() === 'LE';

/**
 * A stored embedding (float32 little-endian) as floats: one byte copy into an aligned array on a
 * little-endian machine (every machine Node runs on in practice), else float by float.
 */
export function toFloat32(buf: Buffer): Float32Array {
  const out = new Float32Array(buf.length >> 2);
  if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(buf.subarray(0, out.length * 4));
  else for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

export function searchSubjects(db: Db, probe: Float32Array, options: { top: number; model?: string }): SearchHit[] {
  const files = new FilesRepo(db);
  const hits: SearchHit[] = [];
  for (const s of new SubjectsRepo(db).searchable()) {
    if (options.model && s.model !== options.model) continue;
    const emb = toFloat32(s.embedding);
    if (emb.length !== probe.length) continue;
    const first = s.crops[0] ? files.pathOf(s.envelopeId, s.crops[0]) : undefined;
    hits.push({
      score: cosine(probe, emb),
      incidentId: s.incidentId,
      envelopeId: s.envelopeId,
      deviceId: s.deviceId,
      store: s.store,
      subjectId: s.subjectId,
      cameras: s.cameras,
      time: s.firstSeen,
      crop: first ?? null,
    });
  }
  return hits.sort((a, b) => b.score - a.score).slice(0, options.top);
}
