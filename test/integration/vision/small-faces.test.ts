import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../../daemon/src/config/load.js';
import { findFaces } from '../../../daemon/src/vision/faces.js';
import { Pyramid } from '../../../daemon/src/vision/image.js';
import { FaceModels } from '../../../daemon/src/vision/models.js';
import { visionOptions } from '../../../daemon/src/vision/options.js';
import { PUBLIC_FACE } from '../../helpers/faces.js';
import { MODELS_DIR } from '../../helpers/paths.js';

/** Deterministic pseudo-random numbers (the test must not change from run to run). */
function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
}

describe('small faces in 1080p frames (acceptance check 3)', () => {
  let models: FaceModels;
  beforeAll(async () => {
    models = await FaceModels.load(MODELS_DIR, { intraOpThreads: 1, withEmbedder: false });
  });
  afterAll(async () => models?.release());

  it('finds >= 95 % of faces with 12-16 px between the eyes, anywhere in a noisy, JPEG-compressed 1920x1080 frame', async () => {
    const options = visionOptions(buildConfig({ device: { id: 'test-box' } }, { env: {} }), MODELS_DIR);
    // where the eyes are in the photo, measured once by the pipeline itself at full size
    const big = await sharp(PUBLIC_FACE).raw().toBuffer({ resolveWithObject: true });
    const [ref] = await findFaces(models, new Pyramid({ width: big.info.width, height: big.info.height, data: big.data }), options);
    const [le, re] = ref!.landmarks5;
    const refEyes = Math.hypot(re![0] - le![0], re![1] - le![1]);
    const random = rng(7);
    const trials = 40;
    const found: number[] = [];
    const missed: string[] = [];
    for (let i = 0; i < trials; i++) {
      const eyes = 12 + 4 * random();
      const s = eyes / refEyes;
      const w = Math.round(big.info.width * s);
      const h = Math.round(big.info.height * s);
      const face = await sharp(PUBLIC_FACE).resize(w, h).toBuffer();
      const x = Math.round(random() * (1920 - w));
      const y = Math.round(random() * (1080 - h));
      const noise = Buffer.alloc(1920 * 1080 * 3);
      for (let k = 0; k < noise.length; k++) noise[k] = 90 + Math.floor(random() * 60);
      const jpeg = await sharp(noise, { raw: { width: 1920, height: 1080, channels: 3 } }).composite([{ input: face, left: x, top: y }]).jpeg({ quality: 75 }).toBuffer();
      const frame = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
      const faces = await findFaces(models, new Pyramid({ width: 1920, height: 1080, data: frame.data }), options);
      const eyeX = x + ((le![0] + re![0]) / 2) * s;
      const eyeY = y + ((le![1] + re![1]) / 2) * s;
      const hit = faces.find((f) => f.box[0] < eyeX && eyeX < f.box[2] && f.box[1] < eyeY && eyeY < f.box[3]);
      if (hit) {
        found.push(hit.quality.eye_distance);
        expect(Math.abs(hit.quality.eye_distance - eyes) / eyes).toBeLessThan(0.3);
      } else missed.push(`${eyes.toFixed(1)} px at ${x},${y}`);
      // a face that small is still found at the right size, and nothing else is in the frame
      expect(faces.length).toBeLessThanOrEqual(1);
    }
    console.log(`small faces: ${found.length}/${trials} detected; missed: ${missed.join('; ') || 'none'}`);
    expect(found.length / trials).toBeGreaterThanOrEqual(0.95);
  });
});
