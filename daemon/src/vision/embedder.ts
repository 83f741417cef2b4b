import type ort from 'onnxruntime-node';
import type { RgbImage } from './image.js';
import { runSingle, tensor } from './models.js';

/**
 * The 512-d embedding of an aligned 112x112 face, L2-normalised. The input is **BGR** (channel 0 = blue),
 * (x - 127) / 128: the model was trained on OpenCV-loaded crops. Feeding RGB, as the model package's own
 * code does, costs LFW 99.4 % -> 99.0 % and holdout TAR@FAR1e-4 97.7 % -> 95.6 %.
 */
export async function embedFace(session: ort.InferenceSession, aligned: RgbImage): Promise<{ embedding: Float32Array; norm: number }> {
  const plane = aligned.width * aligned.height;
  const input = new Float32Array(3 * plane);
  const d = aligned.data;
  for (let i = 0, p = 0; i < plane; i++, p += 3) {
    input[i] = (d[p + 2]! - 127) / 128;
    input[plane + i] = (d[p + 1]! - 127) / 128;
    input[2 * plane + i] = (d[p]! - 127) / 128;
  }
  const raw = Float32Array.from(await runSingle(session, tensor(input, [1, 3, aligned.height, aligned.width])));
  const norm = Math.hypot(...raw);
  return { embedding: l2normalise(raw), norm };
}

export function l2normalise(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n) || 1;
  for (let i = 0; i < v.length; i++) v[i] = v[i]! / n;
  return v;
}

/** Plain cosine of two L2-normalised embeddings (no per-pair mean-centring, unlike the package's code). */
export function cosine(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
