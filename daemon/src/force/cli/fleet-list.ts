import type { Command } from 'commander';
import type { Db } from '../../db/db.js';
import { table } from '../../program/output.js';
import { systemClock } from '../../util/clock.js';
import { UsageError } from '../../util/errors.js';
import { configView } from '../config-state.js';
import { openForceDatabase } from '../database-file.js';
import { AuditHeadsRepo } from '../db/audit-heads.js';
import { FleetRepo } from '../db/fleet.js';
import { auditWord, fleetLines, type FleetLine } from '../fleet-view.js';
import { FORCE_CONFIG_OPTION, loadForceConfig } from './config-option.js';

/**
 * `hindsight-force fleet list` and `fleet show`: reading the fleet. Apart from the rest of `fleet`
 * (fleet.ts), and importing only what they use, so an admin's (or a script's) `fleet list` starts fast:
 * no signing, no protocol schemas, no broker client.
 */

/** A time as the fleet commands print it: `2026-01-31 12:00:00` (UTC). */
export const utcTime = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
const ago = (ms: number | null, now: number): string => (ms === null ? '-' : `${Math.max(0, Math.round((now - ms) / 1000))} s ago`);

/** One box's line: presence, and the few health figures an admin with 500 boxes scans for. */
function summary(l: FleetLine, now: number): string[] {
  return [
    l.deviceId,
    l.store,
    l.state,
    l.sinceUtc === null ? '-' : utcTime(l.sinceUtc),
    l.version ?? '-',
    ago(l.healthUtc, now),
    l.cameras ? `${l.cameras.recording}/${l.cameras.total}` : '-',
    String(l.alarms.length),
    l.freeDiskBytes === null ? '-' : `${(l.freeDiskBytes / 1e9).toFixed(1)} GB`,
    l.config,
    auditWord(l.audit),
  ];
}

/**
 * Run `fn` with the force database open, closing it whatever happens. Reading only: no audit row is
 * written, so neither the audit log nor the clock's state or the operator is needed, and the file's
 * integrity check is left to the receiver and the commands that write.
 */
function readForceDb<T>(dir: string, fn: (db: Db) => T): T {
  const db = openForceDatabase(dir, { quickCheck: false });
  try {
    return fn(db);
  } finally {
    if (db.open) db.close();
  }
}

/** `hindsight-force fleet` with its reading subcommands: every box's presence and latest health. */
export function registerFleetView(force: Command): void {
  const fleet = force.command('fleet').description("every box's presence (online, or offline since when) and its latest health document");

  fleet
    .command('list')
    .description('one line per enrolled box: online/offline since (or revoked, or never seen), version, last health, cameras recording, alarms, free disk, configuration state')
    .option(...FORCE_CONFIG_OPTION)
    .option('--json', 'machine-readable output')
    .action((opts: { config?: string; json?: boolean }) => {
      const config = loadForceConfig(opts.config);
      readForceDb(config.force.dir, (db) => {
        const lines = fleetLines(db);
        if (opts.json) {
          // what each box said, with its enrollment, configuration state and its audit log's check: one box
          // per line, its health document passed through as stored (not parsed and printed again)
          const out = lines.map(({ healthJson, ...l }) => `${JSON.stringify(l).slice(0, -1)},"health":${healthJson ?? 'null'}}`);
          return void process.stdout.write(out.length ? `[\n${out.join(',\n')}\n]\n` : '[]\n');
        }
        const now = systemClock.now();
        process.stdout.write(
          lines.length
            ? table(['box', 'store', 'state', 'since (UTC)', 'version', 'health', 'recording', 'alarms', 'free disk', 'config', 'audit'], lines.map((l) => summary(l, now)))
            : 'no box is enrolled yet (hindsight force enroll)\n',
        );
      });
    });

  fleet
    .command('show')
    .description("one box: its presence and whole latest health document")
    .argument('<device>', 'device id')
    .option(...FORCE_CONFIG_OPTION)
    .action((device: string, opts: { config?: string }) => {
      const config = loadForceConfig(opts.config);
      readForceDb(config.force.dir, (db) => {
        const b = new FleetRepo(db).get(device);
        if (!b) throw new UsageError(`box ${JSON.stringify(device.slice(0, 64))} has not reported`, { hint: '`hindsight-force fleet list` shows the boxes that did' });
        process.stdout.write(JSON.stringify({ ...b, config: configView(db, device), audit: new AuditHeadsRepo(db).get(device) ?? null }, null, 2) + '\n');
      });
    });
}
