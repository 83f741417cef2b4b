import { embedRecord, findFaces, type FaceRecord } from './faces.js';
import { Pyramid } from './image.js';
import { readImageFile } from './image-file.js';
import type { FaceModels } from './models.js';
import type { VisionOptions } from './options.js';
import type { FaceQuality } from './quality.js';

/** One face of a photo as printed by `hindsight faces` (the evaluation format). */
export interface PhotoFace {
  box: [number, number, number, number];
  score: number;
  landmarks5: [number, number][];
  eye_distance: number;
  quality: FaceQuality;
  accepted: boolean;
  reason: string;
  embedding?: number[];
}

export type PhotoResult = { file: string; width: number; height: number; faces: PhotoFace[] } | { file: string; error: string };

const r2 = (x: number): number => Math.round(x * 100) / 100;
const sig = (x: number): number => Number(x.toPrecision(7));

/**
 * Every face of one still image, embedded (all of them, accepted or not, so an evaluation can score the
 * gate separately), sorted by detector score. Errors become `{file, error}`; nothing is thrown.
 */
export async function analysePhoto(models: FaceModels, file: string, options: VisionOptions, bytes?: Buffer): Promise<PhotoResult> {
  let faces: FaceRecord[];
  let width: number;
  let height: number;
  try {
    const image = await readImageFile(file, options.maxImagePixels, bytes);
    ({ width, height } = image);
    faces = await findFaces(models, new Pyramid(image), { detector: options.detector, gate: options.gate });
    for (const f of faces) await embedRecord(models, f, options.gate);
  } catch (err) {
    const e = err as Error & { hint?: string };
    return { file, error: e.hint ? `${e.message} (${e.hint})` : e.message };
  }
  return { file, width, height, faces: faces.map(toPhotoFace) };
}

function toPhotoFace(f: FaceRecord): PhotoFace {
  const q = Object.fromEntries(Object.entries(f.quality).map(([k, v]) => [k, sig(v as number)])) as unknown as FaceQuality;
  const out: PhotoFace = {
    box: f.box.map(r2) as PhotoFace['box'],
    score: sig(f.score),
    landmarks5: f.landmarks5.map(([x, y]) => [r2(x), r2(y)]),
    eye_distance: r2(f.quality.eye_distance),
    quality: q,
    accepted: f.accepted,
    reason: f.reason,
  };
  if (f.embedding) out.embedding = Array.from(f.embedding, sig);
  return out;
}
