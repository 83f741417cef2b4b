import { readFileSync } from 'node:fs';
import path from 'node:path';
import { INSTALL_ROOT } from './paths.js';

let cached: string | undefined;

/** The daemon's version, from the installation's package.json. */
export function daemonVersion(): string {
  if (cached === undefined) {
    try {
      cached = (JSON.parse(readFileSync(path.join(INSTALL_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      cached = '0.0.0-unknown';
    }
  }
  return cached;
}
