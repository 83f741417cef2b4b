/**
 * What `hindsight doctor` is made of. Each feature contributes the checks of what it needs (the recorder
 * its ffmpeg, the models their files, the uplink its enrollment...) and the CLI lists them in the order
 * they are printed. This folder imports nothing, so any feature, however low, can contribute.
 */

export type CheckState = 'ok' | 'missing' | 'warn';

export interface CheckResult {
  check: string;
  state: CheckState;
  /** Whether the daemon cannot do its job without it (doctor exits non-zero). */
  required: boolean;
  detail: string;
  fix?: string;
}

/**
 * One check (or a family of them, e.g. one per model file). `T` is what the caller checks: a check asks
 * only for the part it reads (`{ paths }`, `{ config }`), so it fits any target that has that part.
 */
export type Check<T> = (target: T) => CheckResult | CheckResult[] | Promise<CheckResult | CheckResult[]>;
