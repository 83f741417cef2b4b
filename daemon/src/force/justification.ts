import { UsageError } from '../util/errors.js';

/** A justification worth auditing: at least three words (a usage error, exit 2, otherwise). */
export function requireJustification(text: string | undefined, option = '--reason'): string {
  const reason = (text ?? '').trim();
  const words = reason.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w));
  if (words.length < 3) {
    throw new UsageError(`${option} must say why, in at least three words (got ${reason ? JSON.stringify(reason.slice(0, 80)) : 'nothing'})`, {
      hint: `e.g. ${option} "linking shop thefts, case 2026/0417"; it is recorded in the force's audit log`,
    });
  }
  return reason;
}
