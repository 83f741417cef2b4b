import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from './schema.js';

/** The installation's root folder (holds models/, config/, package.json). Same depth from src and dist. */
export const INSTALL_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface DaemonPaths {
  stateDir: string;
  bufferDir: string;
  evidenceDir: string;
  /** The control socket, token and peer proofs: live only while the daemon runs. */
  runtimeDir: string;
  database: string;
  modelsDir: string;
}

export function daemonPaths(config: Config): DaemonPaths {
  const stateDir = config.paths.state_dir;
  return {
    stateDir,
    bufferDir: config.paths.buffer_dir || path.join(stateDir, 'buffer'),
    evidenceDir: config.paths.evidence_dir || path.join(stateDir, 'evidence'),
    runtimeDir: config.paths.runtime_dir || stateDir,
    database: path.join(stateDir, 'hindsight.db'),
    modelsDir: config.models.dir || path.join(INSTALL_ROOT, 'models'),
  };
}
