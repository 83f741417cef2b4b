import type { Command } from 'commander';
import { table } from '../../program/output.js';
import { systemClock } from '../../util/clock.js';
import { UsageError } from '../../util/errors.js';
import { FleetRepo, type FleetBox } from '../db/fleet.js';
import { DeviceRegistry } from '../registry.js';
import { FORCE_CONFIG_OPTION, loadForceConfig } from './config-option.js';
import { withForceSession } from './session.js';

const time = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
const ago = (ms: number | null, now: number): string => (ms === null ? '-' : `${Math.max(0, Math.round((now - ms) / 1000))} s ago`);

/** One box's line: presence, and the few health figures an admin with 500 boxes scans for. */
function summary(b: FleetBox, store: string, now: number): string[] {
  const h = b.health ?? {};
  const cameras = Array.isArray(h.cameras) ? (h.cameras as { state?: string }[]) : [];
  const alarms = Array.isArray(h.alarms) ? h.alarms.length : 0;
  const disk = (h.disk ?? {}) as { free_bytes?: number | null };
  return [
    b.deviceId,
    store,
    b.state,
    time(b.sinceUtc),
    b.version || '-',
    ago(b.healthUtc, now),
    `${cameras.filter((c) => c.state === 'recording').length}/${cameras.length}`,
    String(alarms),
    typeof disk.free_bytes === 'number' ? `${(disk.free_bytes / 1e9).toFixed(1)} GB` : '-',
  ];
}

/** `hindsight-force fleet`: every box's presence and latest health. */
export function registerForceFleet(force: Command): void {
  const fleet = force.command('fleet').description("every box's presence (online, or offline since when) and its latest health document");

  fleet
    .command('list')
    .description('one line per box: online/offline since, version, last health, cameras recording, alarms, free disk')
    .option(...FORCE_CONFIG_OPTION)
    .option('--json', 'machine-readable output')
    .action(async (opts: { config?: string; json?: boolean }) => {
      const config = loadForceConfig(opts.config);
      await withForceSession(config.force.dir, (fdb) => {
        const boxes = new FleetRepo(fdb.db).list();
        const registry = new DeviceRegistry(fdb.db);
        if (opts.json) return void process.stdout.write(JSON.stringify(boxes, null, 2) + '\n');
        const now = systemClock.now();
        process.stdout.write(
          boxes.length
            ? table(['box', 'store', 'state', 'since (UTC)', 'version', 'health', 'recording', 'alarms', 'free disk'], boxes.map((b) => summary(b, registry.get(b.deviceId)?.store ?? '?', now)))
            : 'no box has said anything yet (boxes report when they connect to the broker)\n',
        );
      });
    });

  fleet
    .command('show')
    .description("one box: its presence and whole latest health document")
    .argument('<device>', 'device id')
    .option(...FORCE_CONFIG_OPTION)
    .action(async (device: string, opts: { config?: string }) => {
      const config = loadForceConfig(opts.config);
      await withForceSession(config.force.dir, (fdb) => {
        const b = new FleetRepo(fdb.db).get(device);
        if (!b) throw new UsageError(`box ${JSON.stringify(device.slice(0, 64))} has not reported`, { hint: '`hindsight-force fleet list` shows the boxes that did' });
        process.stdout.write(JSON.stringify(b, null, 2) + '\n');
      });
    });
}
