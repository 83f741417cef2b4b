import { buildConfig } from '../config/load.js';
import { daemonPaths } from '../config/paths.js';
import { embeddingModelName, FaceModels } from '../vision/models.js';
import { visionOptions } from '../vision/options.js';
import { analysePhoto } from '../vision/photo.js';
import { HindsightError } from '../util/errors.js';
import type { ProbeEmbedder } from './search.js';

/**
 * The one place `force search --image` gets its face embedder: the boxes' own pipeline (detect, landmarks,
 * align, embed), so probe and stored embeddings come from the same model. The probe's face is the best
 * accepted one (highest detector score that passes the quality gate).
 */
export async function loadProbeEmbedder(modelsDir?: string): Promise<ProbeEmbedder> {
  const config = buildConfig({ device: { id: 'force' } });
  const dir = modelsDir ?? daemonPaths(config).modelsDir;
  const models = await FaceModels.load(dir, { intraOpThreads: 1, withEmbedder: true });
  const options = visionOptions(config, dir);
  return {
    model: embeddingModelName(models.ids)!,
    async embedProbe(imagePath: string, bytes?: Buffer): Promise<Float32Array> {
      const r = await analysePhoto(models, imagePath, options, bytes);
      if ('error' in r) throw new HindsightError(`cannot read the probe photo: ${r.error}`, { code: 'bad_probe', hint: 'give a JPEG or PNG photo of one face' });
      const face = r.faces.find((f) => f.accepted && f.embedding);
      if (!face?.embedding) {
        throw new HindsightError(`no usable face in ${imagePath} (${r.faces.length} found, none passed the quality gate)`, {
          code: 'no_face',
          hint: 'use a sharper, more frontal photo with the face at least 24 pixels between the eyes',
        });
      }
      return Float32Array.from(face.embedding);
    },
  };
}
