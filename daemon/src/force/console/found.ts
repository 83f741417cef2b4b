import { WebError } from '../../https/error.js';
import type { TriageRow } from '../db/triage.js';
import type { Workbench } from '../workbench.js';

/** The incident a console address names (an envelope id, or an incident id with one envelope), or a 404. */
export function found(workbench: Workbench, id: string): TriageRow {
  try {
    return workbench.resolve(id);
  } catch (err) {
    throw new WebError(404, (err as Error).message, { code: 'not_found' });
  }
}
