import path from 'node:path';
import Database from 'better-sqlite3';
import { Writable } from 'node:stream';
import type { AppContext } from '../../daemon/src/kernel/context.js';
import { Daemon } from '../../daemon/src/app/daemon.js';
import { buildConfig } from '../../daemon/src/config/load.js';
import { createLogger } from '../../daemon/src/log/logger.js';
import type { RetentionService } from '../../daemon/src/recorder/retention-service.js';
import type { RecorderService } from '../../daemon/src/recorder/service.js';
import { systemClock, type Clock } from '../../daemon/src/util/clock.js';

/** Config for recorder tests: loopback cameras allowed, short timeouts, no free-space floor (this disk is shared). */
export function recorderConfigOverrides(extra: Record<string, unknown> = {}): Record<string, Record<string, unknown>> {
  const base: Record<string, Record<string, unknown>> = {
    cameras: { networks: ['127.0.0.0/8'], probe_timeout_s: 5 },
    recorder: { segment_seconds: 1, rtsp_timeout_s: 2, stall_timeout_s: 10, restart_initial_s: 0.5, restart_max_s: 4, reachability_poll_s: 0.5, status_interval_s: 1, reload_poll_s: 0.5 },
    buffer: { min_free_gb: 0 },
  };
  for (const [k, v] of Object.entries(extra)) base[k] = { ...(base[k] ?? {}), ...(v as Record<string, unknown>) };
  return base;
}

export interface InProcessRecorder {
  ctx: AppContext;
  recorder: RecorderService;
  retention: RetentionService;
  /** Log lines (JSON) written so far. */
  lines: string[];
}

/**
 * The daemon's real composition (context, services) on a fresh state folder, in this process, with its log
 * captured. Only the services a test starts run.
 */
export function inProcessDaemon(dir: string, overrides: Record<string, unknown> = {}, clock: Clock = systemClock): InProcessRecorder {
  const config = buildConfig({ device: { id: 'test-box' }, paths: { state_dir: path.join(dir, 'state') }, log: { level: 'debug', pretty: false }, ...recorderConfigOverrides(overrides) });
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  const daemon = new Daemon(config, { log: createLogger({ level: 'debug', pretty: false, destination }), clock });
  return { ctx: daemon.ctx, recorder: daemon.service<RecorderService>('recorder')!, retention: daemon.service<RetentionService>('retention')!, lines };
}

/** Rows of a query on a daemon's database (state folder under `dir`), read-only while the daemon writes. */
export function queryStateDb<T>(dir: string, sql: string): T[] {
  const db = new Database(path.join(dir, 'state', 'hindsight.db'), { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}
