import path from 'node:path';
import { assertSafeId } from '../util/ids.js';

/** Where an incident's files live: <evidence>/<incident id>/{master/<camera>.ts, manifest.json, ...}. */
export function incidentDir(evidenceRoot: string, incidentId: string): string {
  return path.join(evidenceRoot, assertSafeId(incidentId, 'incident id'));
}
