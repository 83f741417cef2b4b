import type { Command } from 'commander';
import { table } from '../../program/output.js';
import { readKeyFile } from '../../crypto/keys.js';
import { COMMAND_OPS } from '../../protocol/commands.js';
import { EXIT_FAILURE } from '../../program/output.js';
import { sleep, systemClock } from '../../util/clock.js';
import { UsageError } from '../../util/errors.js';
import { CommandIssuer, MAX_COMMAND_TTL_S } from '../commands.js';
import { CommandsRepo } from '../db/commands.js';
import { loadKeySet } from '../keys.js';
import { forcePaths } from '../paths.js';
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

/** `--arg key=value` (repeatable): a value that reads as JSON (a number, true, an object) is taken as such. */
function parseArg(text: string, previous: Record<string, unknown> = {}): Record<string, unknown> {
  const eq = text.indexOf('=');
  if (eq < 1) throw new UsageError(`--arg ${JSON.stringify(text.slice(0, 80))} is not key=value`);
  const key = text.slice(0, eq);
  const raw = text.slice(eq + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    /* a plain string */
  }
  return { ...previous, [key]: value };
}

const FINAL = new Set(['done', 'failed', 'expired']);

/** `hindsight-force fleet cmd` and `fleet commands`: signed commands to boxes, and what became of them. */
export function registerFleetCommands(force: Command): void {
  const fleet = force.commands.find((c) => c.name() === 'fleet')!;

  fleet
    .command('cmd')
    .description(`sign a command for a box (or every box) and wait for its reply. Ops: ${COMMAND_OPS.join(', ')}. A running \`hindsight-force receive\` sends it`)
    .argument('<device>', "device id, or 'all' for every enrolled box that is not revoked")
    .argument('<op>', 'the operation')
    .option('--arg <key=value>', 'an argument of the op (repeatable; JSON values allowed)', parseArg, {})
    .option('--ttl <seconds>', `how long the command stays valid (5-${MAX_COMMAND_TTL_S})`, '120')
    .option('--no-wait', 'queue it and return at once (see `fleet commands`)')
    .option(...FORCE_CONFIG_OPTION)
    .option('--json', 'machine-readable output')
    .action(async (device: string, op: string, opts: { arg: Record<string, unknown>; ttl: string; wait: boolean; config?: string; json?: boolean }) => {
      const config = loadForceConfig(opts.config);
      const args = { ...opts.arg };
      // a key rotation reaches the boxes as the force's current key set
      if (op === 'set_key_set' && args.keyset === undefined) args.keyset = loadKeySet(config.force.dir);
      const results = await withForceSession(config.force.dir, async (fdb) => {
        const registry = new DeviceRegistry(fdb.db);
        const targets = device === 'all' ? registry.list().filter((d) => !d.revoked).map((d) => d.id) : [device];
        if (!targets.length) throw new UsageError('no box is enrolled with this force');
        const issuer = new CommandIssuer({ db: fdb.db, audit: fdb.audit, key: readKeyFile(forcePaths(config.force.dir).commandKey, 'ed25519'), clock: systemClock });
        const issued = targets.map((id) => issuer.issue({ deviceId: id, op, args, ttlS: Number(opts.ttl) }, fdb.actor));
        if (!opts.wait) return issued;
        const repo = new CommandsRepo(fdb.db);
        const started = Date.now();
        let warned = false;
        for (;;) {
          const now = issued.map((c) => repo.get(c.cmdId)!);
          if (now.every((c) => FINAL.has(c.status))) return now;
          if (!warned && Date.now() - started > 5000 && now.some((c) => c.status === 'queued')) {
            warned = true;
            process.stderr.write('still queued after 5 s: is `hindsight-force receive` running and connected to the broker?\n');
          }
          await sleep(200);
        }
      });
      if (opts.json) process.stdout.write(JSON.stringify(results, null, 2) + '\n');
      else {
        for (const c of results) {
          const head = `${c.deviceId} ${c.op} ${c.cmdId}: ${c.status}`;
          process.stdout.write(c.status === 'done' ? `${head}\n${JSON.stringify(c.reply, null, 2)}\n` : `${head}${c.error ? ` (${c.error})` : ''}\n`);
        }
      }
      if (opts.wait && results.some((c) => c.status !== 'done')) process.exitCode = EXIT_FAILURE;
    });

  fleet
    .command('commands')
    .description('the latest commands, of one box or all: op, state (queued, sent, done, failed, expired), who asked, the error')
    .argument('[device]', 'device id')
    .option('--limit <n>', 'how many', '50')
    .option(...FORCE_CONFIG_OPTION)
    .option('--json', 'machine-readable output')
    .action(async (device: string | undefined, opts: { limit: string; config?: string; json?: boolean }) => {
      const config = loadForceConfig(opts.config);
      await withForceSession(config.force.dir, (fdb) => {
        const list = new CommandsRepo(fdb.db).list(device, Math.max(1, Math.min(1000, Number(opts.limit) || 50)));
        if (opts.json) return void process.stdout.write(JSON.stringify(list, null, 2) + '\n');
        process.stdout.write(
          list.length
            ? table(['issued (UTC)', 'box', 'op', 'state', 'by', 'command', 'error'], list.map((c) => [time(c.createdUtc), c.deviceId, c.op, c.status, c.requestedBy, c.cmdId, c.error ?? '']))
            : 'no command has been issued\n',
        );
      });
    });
}
