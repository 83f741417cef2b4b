import type { Check, CheckResult } from './check.js';

/** Run the checks one after the other (some start programs), keeping their order in the results. */
export async function runChecks<T>(checks: readonly Check<T>[], target: T): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const check of checks) results.push(...[await check(target)].flat());
  return results;
}

export interface DoctorSummary {
  /** Required checks that failed: any of them makes doctor exit non-zero. */
  failed: CheckResult[];
  /** Checks that are not ok and say how to fix them, in order. */
  fixes: CheckResult[];
}

export function summarize(results: readonly CheckResult[]): DoctorSummary {
  return { failed: results.filter((r) => r.required && r.state === 'missing'), fixes: results.filter((r) => r.fix && r.state !== 'ok') };
}
