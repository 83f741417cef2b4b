import { buildConfig } from '../config/load.js';
import { daemonPaths } from '../config/paths.js';
import { embeddingModelName, FaceModels } from '../vision/models.js';
import { visionOptions } from '../vision/options.js';
import { analysePhoto, type PhotoFace } from '../vision/photo.js';
import { HindsightError } from '../util/errors.js';
import type { ProbeEmbedder } from './search.js';

/**
 * The force's face embedder: the boxes' own pipeline (detect, quality gate, landmarks, align, embed), so
 * probe photos, custody photos and the boxes' subjects are compared in one model's space. Embeddings are
 * L2-normalised float32.
 */
export interface PhotoEmbedder {
  /** Model name, as recorded in packages and in the gallery (only the same model's embeddings are compared). */
  readonly model: string;
  /**
   * The face of a photo: `best` takes the accepted face with the highest detector score (a probe), `centre`
   * the face nearest the middle (a custody photo: the person photographed). A photo whose face fails the
   * quality gate, or that has none, gives the reason in words.
   */
  embedPhoto(file: string, bytes: Buffer, pick: 'best' | 'centre'): Promise<{ embedding: Float32Array; score: number } | { reason: string; unreadable?: true }>;
  release(): Promise<void>;
}

export async function loadPhotoEmbedder(modelsDir?: string): Promise<PhotoEmbedder> {
  const config = buildConfig({ device: { id: 'force' } });
  const dir = modelsDir ?? daemonPaths(config).modelsDir;
  const models = await FaceModels.load(dir, { intraOpThreads: 1, withEmbedder: true });
  const options = visionOptions(config, dir);
  return {
    model: embeddingModelName(models.ids)!,
    async embedPhoto(file, bytes, pick) {
      const r = await analysePhoto(models, file, options, bytes);
      if ('error' in r) return { reason: `cannot read it: ${r.error}`, unreadable: true };
      if (r.faces.length === 0) return { reason: 'no face found' };
      const face = pick === 'best' ? r.faces.find((f) => f.accepted && f.embedding) : nearestCentre(r.faces, r.width, r.height);
      if (!face) return { reason: `${r.faces.length} face(s) found, none passed the quality gate (${r.faces[0]!.reason})` };
      if (!face.accepted || !face.embedding) return { reason: `its face does not pass the quality gate: ${face.reason}` };
      return { embedding: normalised(face.embedding), score: face.score };
    },
    release: () => models.release(),
  };
}

function nearestCentre(faces: PhotoFace[], width: number, height: number): PhotoFace | undefined {
  const d = (f: PhotoFace): number => Math.hypot((f.box[0] + f.box[2]) / 2 - width / 2, (f.box[1] + f.box[3]) / 2 - height / 2);
  return [...faces].sort((a, b) => d(a) - d(b))[0];
}

function normalised(v: number[]): Float32Array {
  const out = Float32Array.from(v);
  let n = 0;
  for (const x of out) n += x * x;
  n = Math.sqrt(n) || 1;
  for (let i = 0; i < out.length; i++) out[i]! /= n;
  return out;
}

/** `force search --image` and `gallery search`: a probe photo's best accepted face, or a plain-words error. */
export async function loadProbeEmbedder(modelsDir?: string): Promise<ProbeEmbedder & { release(): Promise<void> }> {
  const embedder = await loadPhotoEmbedder(modelsDir);
  return {
    model: embedder.model,
    async embedProbe(imagePath: string, bytes?: Buffer): Promise<Float32Array> {
      const { readFileSync } = await import('node:fs');
      const r = await embedder.embedPhoto(imagePath, bytes ?? readFileSync(imagePath), 'best');
      if ('reason' in r) {
        if (r.unreadable) throw new HindsightError(`cannot read the probe photo ${imagePath}: ${r.reason.slice('cannot read it: '.length)}`, { code: 'bad_probe', hint: 'give a JPEG or PNG photo of one face' });
        throw new HindsightError(`no usable face in ${imagePath}: ${r.reason}`, {
          code: 'no_face',
          hint: 'use a sharper, more frontal photo with the face at least 24 pixels between the eyes',
        });
      }
      return r.embedding;
    },
    release: () => embedder.release(),
  };
}
