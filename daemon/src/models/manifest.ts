import { readFileSync } from 'node:fs';
import path from 'node:path';
import { HindsightError } from '../util/errors.js';

export interface TensorSpec {
  name: string;
  type: string;
  shape: number[];
}

export interface ModelEntry {
  /** Role in the pipeline: detector | landmarks | embedder. */
  name: string;
  file: string;
  tarball_path: string;
  sha256: string;
  bytes: number;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

export interface ModelManifest {
  package: string;
  package_sha256: string;
  licence: string;
  models: ModelEntry[];
}

export const MANIFEST_FILE = 'manifest.json';
const HEX64 = /^[0-9a-f]{64}$/;

export function readManifest(modelsDir: string): ModelManifest {
  const file = path.join(modelsDir, MANIFEST_FILE);
  let parsed: ModelManifest;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as ModelManifest;
  } catch (err) {
    throw new HindsightError(`cannot read model manifest ${file}: ${(err as Error).message}`, {
      code: 'models_manifest',
      hint: 'the manifest ships with Hindsight; reinstall, or set models.dir to the folder that holds it',
    });
  }
  if (!HEX64.test(parsed.package_sha256 ?? '') || !Array.isArray(parsed.models)) {
    throw new HindsightError(`model manifest ${file} is malformed`, { code: 'models_manifest' });
  }
  for (const m of parsed.models) {
    // file names come from our own manifest, but they still must not escape the folder
    if (!HEX64.test(m.sha256) || path.basename(m.file) !== m.file || !m.file.endsWith('.onnx')) {
      throw new HindsightError(`model manifest ${file}: bad entry ${JSON.stringify(m.name)}`, { code: 'models_manifest' });
    }
  }
  return parsed;
}

