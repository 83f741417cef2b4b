import type { Logger } from 'pino';
import { loadConfigFile } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { errorMessage } from '../util/errors.js';

/** Keys a running daemon takes at a reload (SIGHUP, `systemctl reload hindsight`); every other change waits for a restart. */
export const LIVE_KEYS: readonly string[] = ['log.level'];

/** The dotted paths of the leaves that differ between two configurations (arrays compared whole). */
export function changedKeys(before: unknown, after: unknown, at = ''): string[] {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => changedKeys(before[k], after[k], at ? `${at}.${k}` : k));
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [at];
}

export type ReloadOutcome = { ok: true; applied: string[]; restartNeeded: string[] } | { ok: false; error: string };

/**
 * Reading the config file again on SIGHUP. A file that does not load (a typo, a value out of range) is
 * refused with its reasons and the daemon runs on as it was; a valid one has its live keys applied now
 * (the log level) and its other changes named as waiting for a restart. Compared with the file as it was
 * last read, not with the running configuration (which the force's caps and the managers' settings
 * also shape).
 */
export class ConfigReload {
  private current: Config;

  constructor(
    private readonly d: { file: string; env: NodeJS.ProcessEnv; log: Logger },
  ) {
    this.current = loadConfigFile(d.file, d.env);
  }

  reload(): ReloadOutcome {
    let next: Config;
    try {
      next = loadConfigFile(this.d.file, this.d.env);
    } catch (err) {
      const error = errorMessage(err);
      this.d.log.error({ service: 'config', file: this.d.file, err: error }, `configuration not reloaded, the daemon runs on as it was: ${error}`);
      return { ok: false, error };
    }
    const changed = changedKeys(this.current, next);
    const applied = changed.filter((k) => LIVE_KEYS.includes(k));
    const restartNeeded = changed.filter((k) => !LIVE_KEYS.includes(k));
    if (applied.includes('log.level')) this.d.log.level = next.log.level;
    this.current = next;
    this.d.log.info({ service: 'config', file: this.d.file, applied, restart_needed: restartNeeded }, changed.length ? `configuration reloaded: ${applied.length ? `applied ${applied.join(', ')}` : 'nothing to apply now'}${restartNeeded.length ? `; takes effect at the next restart: ${restartNeeded.join(', ')}` : ''}` : 'configuration reloaded: nothing changed');
    return { ok: true, applied, restartNeeded };
  }
}
