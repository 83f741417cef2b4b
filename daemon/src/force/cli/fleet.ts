import type { Command } from 'commander';
import { table } from '../../program/output.js';
import { readKeyFile } from '../../crypto/keys.js';
import { COMMAND_OPS, HIGH_RISK_OPS, type CommandOp } from '../../protocol/commands.js';
import { EXIT_FAILURE } from '../../program/output.js';
import { sleep, systemClock } from '../../util/clock.js';
import { UsageError } from '../../util/errors.js';
import { CommandIssuer, MAX_COMMAND_TTL_S } from '../commands.js';
import { CommandsRepo, type FleetCommand } from '../db/commands.js';
import { DeletionReceiptsRepo } from '../db/deletion-receipts.js';
import { DesiredConfigRepo } from '../db/desired.js';
import { assertGroupName, ConfigIssuer, configView, resolveTargets } from '../desired-config.js';
import { FORCE_CONFIG_KEYS } from '../../protocol/force-config.js';
import { newId } from '../../util/ids.js';
import { loadKeySet } from '../keys.js';
import { forcePaths } from '../paths.js';
import { DeviceRegistry } from '../registry.js';
import { FORCE_CONFIG_OPTION, loadForceConfig } from './config-option.js';
import { registerFleetView, utcTime } from './fleet-list.js';
import { withForceSession } from './session.js';

/** `hindsight-force fleet ...`: presence and health (fleet-list.ts), signed commands, desired configuration, groups and jobs. */
export function registerFleet(force: Command): void {
  registerFleetView(force);
  registerFleetCommands(force);
  registerFleetConfig(force);
  registerDeletions(force.commands.find((c) => c.name() === 'fleet')!);
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

/**
 * Wait until every command has its answer (done, failed) or expired; says so once when nothing went out.
 * Bounded by the commands' own expiry (at most 300 s): they are expired here too, so the wait ends even
 * when no receiver runs to do it.
 */
async function waitForReplies(repo: CommandsRepo, issued: FleetCommand[]): Promise<FleetCommand[]> {
  const started = Date.now();
  let warned = false;
  for (;;) {
    repo.expire(systemClock.now());
    const now = issued.map((c) => repo.get(c.cmdId)!);
    if (now.every((c) => FINAL.has(c.status))) return now;
    if (!warned && Date.now() - started > 5000 && now.some((c) => c.status === 'queued')) {
      warned = true;
      process.stderr.write('still queued after 5 s: is `hindsight-force receive` running and connected to the broker?\n');
    }
    await sleep(200);
  }
}

/** `hindsight-force fleet cmd` and `fleet commands`: signed commands to boxes, and what became of them. */
function registerFleetCommands(force: Command): void {
  const fleet = force.commands.find((c) => c.name() === 'fleet')!;

  fleet
    .command('cmd')
    .description(`sign a command for a box (or every box) and wait for its reply. Ops: ${COMMAND_OPS.join(', ')}. A running \`hindsight-force receive\` sends it`)
    .argument('<target>', "device id, 'all' (every enrolled box not revoked) or group:NAME")
    .argument('<op>', 'the operation')
    .option('--arg <key=value>', 'an argument of the op (repeatable; JSON values allowed)', parseArg, {})
    .option('--ttl <seconds>', `how long the command stays valid (5-${MAX_COMMAND_TTL_S})`, '120')
    .option('--no-wait', 'queue it and return at once (see `fleet commands`); a high-risk op then goes without a nonce unless --arg nonce= is given')
    .option(...FORCE_CONFIG_OPTION)
    .option('--json', 'machine-readable output')
    .action(async (device: string, op: string, opts: { arg: Record<string, unknown>; ttl: string; wait: boolean; config?: string; json?: boolean }) => {
      const config = loadForceConfig(opts.config);
      const args = { ...opts.arg };
      // a key rotation reaches the boxes as the force's current key set
      if (op === 'set_key_set' && args.keyset === undefined) args.keyset = loadKeySet(config.force.dir);
      const results = await withForceSession(config.force.dir, async (fdb) => {
        const targets = resolveTargets(fdb.db, device);
        const issuer = new CommandIssuer({ db: fdb.db, audit: fdb.audit, key: commandKey(config.force.dir), clock: systemClock });
        const repo = new CommandsRepo(fdb.db);
        const ttlS = Number(opts.ttl);
        const issueAll = (what: string, each: { deviceId: string; args: Record<string, unknown> }[]): FleetCommand[] => {
          // the same command to several boxes is one job (`fleet job JOB`: each box's state)
          const jobId = each.length > 1 || device !== each[0]?.deviceId ? `j${newId()}` : undefined;
          const issued = fdb.db.transaction(() => each.map((e) => issuer.issue({ deviceId: e.deviceId, op: what, args: e.args, ttlS, jobId }, fdb.actor)))();
          if (jobId) process.stderr.write(`job ${jobId}: ${what} to ${each.length} box(es)\n`);
          return issued;
        };
        // a high-risk op needs a fresh nonce from each box whose clock is not synchronised: asked for first
        // (unless given), so `fleet cmd all set_key_set` works whatever the boxes' clocks say
        if (HIGH_RISK_OPS.includes(op as CommandOp) && args.nonce === undefined && opts.wait) {
          const nonces = await waitForReplies(repo, issueAll('get_nonce', targets.map((deviceId) => ({ deviceId, args: {} }))));
          const ready = nonces.filter((n) => n.status === 'done');
          for (const n of nonces.filter((x) => x.status !== 'done')) process.stderr.write(`${n.deviceId}: no nonce (${n.status}${n.error ? `: ${n.error}` : ''}); ${op} not sent to it\n`);
          const sent = ready.length ? await waitForReplies(repo, issueAll(op, ready.map((n) => ({ deviceId: n.deviceId, args: { ...args, nonce: (n.reply as { nonce: string }).nonce } })))) : [];
          return [...sent, ...nonces.filter((n) => n.status !== 'done')];
        }
        // set_config: the settings become each box's next desired version (checked here first, kept, and
        // published retained like `fleet config set`), sent as the command so the reply says what the box did
        const each =
          op === 'set_config'
            ? new ConfigIssuer({ db: fdb.db, audit: fdb.audit, key: commandKey(config.force.dir), clock: systemClock })
                .set(targets, args, fdb.actor)
                .versions.map((v) => ({ deviceId: v.deviceId, args: { desired: JSON.parse(v.signed) as Record<string, unknown> } }))
            : targets.map((deviceId) => ({ deviceId, args }));
        const issued = issueAll(op, each);
        return opts.wait ? waitForReplies(repo, issued) : issued;
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
            ? table(['issued (UTC)', 'box', 'op', 'state', 'by', 'command', 'error'], list.map((c) => [utcTime(c.createdUtc), c.deviceId, c.op, c.status, c.requestedBy, c.cmdId, c.error ?? '']))
            : 'no command has been issued\n',
        );
      });
    });
}

/** `hindsight-force fleet deletions`: what a box deleted, as its sealed deletion receipts told the force. */
function registerDeletions(fleet: Command): void {
  fleet
    .command('deletions')
    .description("what a box deleted (footage by retention, master clips erased, working files after delivery), from its signed deletion receipts: newest first, each with the box's audit row hash")
    .argument('<device>', 'device id')
    .option('--object <id>', 'only deletions naming this incident or camera')
    .option('--limit <n>', 'how many', '50')
    .option(...FORCE_CONFIG_OPTION)
    .option('--json', 'machine-readable output')
    .action(async (device: string, opts: { object?: string; limit: string; config?: string; json?: boolean }) => {
      const config = loadForceConfig(opts.config);
      await withForceSession(config.force.dir, (fdb) => {
        const list = new DeletionReceiptsRepo(fdb.db).list(device, Math.max(1, Math.min(10_000, Number(opts.limit) || 50)), opts.object);
        if (opts.json) return void process.stdout.write(JSON.stringify(list, null, 2) + '\n');
        process.stdout.write(
          list.length
            ? table(['deleted (UTC)', 'box row', 'what', 'of', 'files'], list.map((d) => [utcTime(d.ts_utc), String(d.seq), d.action, d.object_ids.join(' '), String(d.sha256s.length)]))
            : `no deletion receipt from ${device}${opts.object ? ` naming ${opts.object}` : ''}\n`,
        );
      });
    });
}

/** The force's command key (signs commands and desired configuration). */
function commandKey(forceDir: string) {
  return readKeyFile(forcePaths(forceDir).commandKey, 'ed25519');
}

/** `--set key=value` (repeatable) of `fleet config set`: values read as JSON (numbers, true/false, null = back to the box's own). */
function parseSetting(text: string, previous: Record<string, unknown> = {}): Record<string, unknown> {
  return parseArg(text, previous);
}

/** `hindsight-force fleet config`, `fleet group` and `fleet job`: versioned desired configuration, groups of boxes and what each box of a job did. */
function registerFleetConfig(force: Command): void {
  const fleet = force.commands.find((c) => c.name() === 'fleet')!;
  const keys = Object.entries(FORCE_CONFIG_KEYS).map(([k, v]) => `${k} (${v.help})`).join('; ');

  const print = (rows: ReturnType<typeof configView>[], json: boolean | undefined): void => {
    if (json) return void process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
    process.stdout.write(
      table(
        ['box', 'desired', 'applied', 'state', 'configuration', 'refused because'],
        rows.map((r) => [r.deviceId, String(r.desiredVersion ?? '-'), String(r.reported?.appliedVersion ?? '-'), r.state, r.desired ? JSON.stringify(r.desired) : '-', r.reported?.errors?.join('; ') ?? '']),
      ),
    );
  };

  const config = fleet.command('config').description(`each box's force-owned configuration: signed, versioned, applied by the box without a restart where it can. Keys: ${keys}`);
  config
    .command('get')
    .description('desired and applied version per box, and whether it is applied, pending, refused (with the reasons) or waiting for a restart')
    .argument('<target>', "device id, 'all' or group:NAME")
    .option(...FORCE_CONFIG_OPTION)
    .option('--json', 'machine-readable output')
    .action(async (target: string, opts: { config?: string; json?: boolean }) => {
      const c = loadForceConfig(opts.config);
      await withForceSession(c.force.dir, (fdb) => print(resolveTargets(fdb.db, target).map((id) => configView(fdb.db, id)), opts.json));
    });
  config
    .command('set')
    .description('change keys of the desired configuration (a new version per box, one job); a running receiver publishes it')
    .argument('<target>', "device id, 'all' or group:NAME")
    .requiredOption('--set <key=value>', 'a force-owned key and its value (repeatable; null = the box\'s own value)', parseSetting, {})
    .option(...FORCE_CONFIG_OPTION)
    .option('--json', 'machine-readable output')
    .action(async (target: string, opts: { set: Record<string, unknown>; config?: string; json?: boolean }) => {
      const c = loadForceConfig(opts.config);
      await withForceSession(c.force.dir, (fdb) => {
        const { jobId, versions } = new ConfigIssuer({ db: fdb.db, audit: fdb.audit, key: commandKey(c.force.dir), clock: systemClock }).set(resolveTargets(fdb.db, target), opts.set, fdb.actor);
        if (opts.json) return void process.stdout.write(JSON.stringify({ job: jobId, versions: versions.map((v) => ({ device: v.deviceId, version: v.version, config: v.config })) }, null, 2) + '\n');
        process.stdout.write(`job ${jobId}: ${versions.map((v) => `${v.deviceId} version ${v.version}`).join(', ')}\nfollow it with: hindsight force fleet job ${jobId}\n`);
      });
    });
  config
    .command('rollback')
    .description("each box back to the configuration of its previous version (as a new version, so boxes that were away converge too)")
    .argument('<target>', "device id, 'all' or group:NAME")
    .option(...FORCE_CONFIG_OPTION)
    .action(async (target: string, opts: { config?: string }) => {
      const c = loadForceConfig(opts.config);
      await withForceSession(c.force.dir, (fdb) => {
        const { jobId, versions } = new ConfigIssuer({ db: fdb.db, audit: fdb.audit, key: commandKey(c.force.dir), clock: systemClock }).rollback(resolveTargets(fdb.db, target), fdb.actor);
        process.stdout.write(`job ${jobId}: ${versions.map((v) => `${v.deviceId} version ${v.version}`).join(', ')}\n`);
      });
    });

  const group = fleet.command('group').description('named groups of boxes (e.g. by area): target them as group:NAME');
  group
    .command('set')
    .description('a group and its boxes (replaces its members)')
    .argument('<name>', 'group name')
    .argument('<devices...>', 'device ids')
    .option(...FORCE_CONFIG_OPTION)
    .action(async (name: string, devices: string[], opts: { config?: string }) => {
      const c = loadForceConfig(opts.config);
      await withForceSession(c.force.dir, (fdb) => {
        const registry = new DeviceRegistry(fdb.db);
        const unknown = devices.filter((d) => !registry.get(d));
        if (unknown.length) throw new UsageError(`not enrolled with this force: ${unknown.join(', ')}`);
        fdb.db.transaction(() => {
          new DesiredConfigRepo(fdb.db).setGroup(assertGroupName(name), devices);
          fdb.audit.append({ actor: fdb.actor, action: 'fleet.group_set', objectIds: [name, ...devices] });
        })();
        process.stdout.write(`group ${name}: ${devices.join(', ')}\n`);
      });
    });
  group
    .command('list')
    .description('every group and its boxes')
    .option(...FORCE_CONFIG_OPTION)
    .option('--json', 'machine-readable output')
    .action(async (opts: { config?: string; json?: boolean }) => {
      const c = loadForceConfig(opts.config);
      await withForceSession(c.force.dir, (fdb) => {
        const groups = new DesiredConfigRepo(fdb.db).groups();
        if (opts.json) return void process.stdout.write(JSON.stringify(groups, null, 2) + '\n');
        process.stdout.write(groups.length ? table(['group', 'boxes'], groups.map((g) => [g.group, g.devices.join(', ')])) : 'no group yet (hindsight force fleet group set NAME BOX...)\n');
      });
    });

  fleet
    .command('job')
    .description("one job (a command or a configuration sent to several boxes): each box's state")
    .argument('<job>', 'job id')
    .option(...FORCE_CONFIG_OPTION)
    .option('--json', 'machine-readable output')
    .action(async (job: string, opts: { config?: string; json?: boolean }) => {
      const c = loadForceConfig(opts.config);
      await withForceSession(c.force.dir, (fdb) => {
        const commands = new CommandsRepo(fdb.db).ofJob(job).map((x) => ({ device: x.deviceId, what: x.op, state: x.status, error: x.error ?? '' }));
        const configs = new DesiredConfigRepo(fdb.db).ofJob(job).map((v) => {
          const view = configView(fdb.db, v.deviceId);
          // a later version of the same box replaced this one: the job's part is then superseded
          const state = view.desiredVersion !== v.version ? (view.reported && view.reported.appliedVersion >= v.version ? 'applied' : 'superseded') : view.state;
          return { device: v.deviceId, what: `config version ${v.version}`, state, error: view.reported?.rejectedVersion === v.version ? (view.reported.errors ?? []).join('; ') : '' };
        });
        const rows = [...commands, ...configs];
        if (!rows.length) throw new UsageError(`no job ${JSON.stringify(job.slice(0, 64))}`);
        if (opts.json) return void process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        process.stdout.write(table(['box', 'what', 'state', 'error'], rows.map((r) => [r.device, r.what, r.state, r.error])));
      });
    });
}
