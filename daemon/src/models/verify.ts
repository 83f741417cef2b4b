import { readFileSync } from 'node:fs';
import path from 'node:path';
import { HindsightError } from '../util/errors.js';
import { sha256, sha256File } from '../util/hash.js';
import { readManifest, type ModelEntry } from './manifest.js';

export type ModelState = 'ok' | 'missing' | 'tampered';

export interface ModelStatus {
  name: string;
  file: string;
  path: string;
  state: ModelState;
  expectedSha256: string;
  actualSha256?: string;
}

export const FETCH_HINT = 'run `hindsight models fetch` (or `npm run setup` in a source checkout)';

export async function checkModels(modelsDir: string): Promise<ModelStatus[]> {
  const manifest = readManifest(modelsDir);
  return Promise.all(manifest.models.map((m) => checkOne(modelsDir, m)));
}

async function checkOne(modelsDir: string, m: ModelEntry): Promise<ModelStatus> {
  const file = path.join(modelsDir, m.file);
  const base = { name: m.name, file: m.file, path: file, expectedSha256: m.sha256 };
  let actual: string;
  try {
    actual = await sha256File(file);
  } catch {
    return { ...base, state: 'missing' };
  }
  return { ...base, state: actual === m.sha256 ? 'ok' : 'tampered', actualSha256: actual };
}

export class ModelIntegrityError extends HindsightError {}

/**
 * Read a model's bytes and check them against the pinned SHA-256. The caller hands these exact bytes
 * to onnxruntime, so the file cannot change between the check and the load.
 */
export function loadVerifiedModel(modelsDir: string, name: string): { entry: ModelEntry; bytes: Buffer } {
  const manifest = readManifest(modelsDir);
  const entry = manifest.models.find((m) => m.name === name);
  if (!entry) throw new ModelIntegrityError(`model ${name} is not in the manifest`, { code: 'model_unknown' });
  const file = path.join(modelsDir, entry.file);
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    throw new ModelIntegrityError(`model file ${file} is missing`, { code: 'model_missing', hint: FETCH_HINT });
  }
  const actual = sha256(bytes);
  if (actual !== entry.sha256) {
    throw new ModelIntegrityError(`model file ${file} does not match its pinned SHA-256 (got ${actual.slice(0, 16)}..., want ${entry.sha256.slice(0, 16)}...): refusing to load it`, {
      code: 'model_tampered',
      hint: `delete the file and ${FETCH_HINT}`,
    });
  }
  return { entry, bytes };
}

/** Whether the face pipeline can run on this box (models present and hash-valid, onnxruntime loads). */
export interface FacePipelineCapability {
  available: boolean;
  reason?: string;
  models: ModelStatus[];
}
