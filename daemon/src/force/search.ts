import type { Db } from '../db/db.js';

/**
 * Linking incidents across stores: rank the stored subjects of every incident by cosine similarity to a
 * probe embedding. The probe comes from the same face pipeline as the boxes' embeddings (same model).
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

export function toFloat32(buf: Buffer): Float32Array {
  const out = new Float32Array(buf.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

export function searchSubjects(db: Db, probe: Float32Array, options: { top: number; model?: string }): SearchHit[] {
  const rows = db
    .prepare(
      `SELECT s.envelope_id, s.subject_id, s.cameras, s.crops, s.first_seen, s.model, s.embedding, i.incident_id, i.device_id, i.store
       FROM subjects s JOIN incidents i ON i.envelope_id = s.envelope_id
       WHERE s.embedding IS NOT NULL`,
    )
    .all() as { envelope_id: string; subject_id: string; cameras: string; crops: string; first_seen: number; model: string | null; embedding: Buffer; incident_id: string; device_id: string; store: string }[];
  const cropPath = db.prepare('SELECT path FROM files WHERE envelope_id = ? AND name = ?');
  const hits: SearchHit[] = [];
  for (const r of rows) {
    if (options.model && r.model !== options.model) continue;
    const emb = toFloat32(r.embedding);
    if (emb.length !== probe.length) continue;
    const crops = JSON.parse(r.crops) as string[];
    const first = crops[0] ? (cropPath.get(r.envelope_id, crops[0]) as { path: string } | undefined) : undefined;
    hits.push({
      score: cosine(probe, emb),
      incidentId: r.incident_id,
      envelopeId: r.envelope_id,
      deviceId: r.device_id,
      store: r.store,
      subjectId: r.subject_id,
      cameras: JSON.parse(r.cameras) as string[],
      time: r.first_seen,
      crop: first?.path ?? null,
    });
  }
  return hits.sort((a, b) => b.score - a.score).slice(0, options.top);
}
