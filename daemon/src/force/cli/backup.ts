import type { Command } from 'commander';
import { backupForce, restoreForce } from '../backup.js';
import { readBackupSecret, withSecretOptions, type SecretOptions } from '../../program/backup-secret.js';
import { daemonVersion } from '../../config/version.js';
import { FORCE_CONFIG_OPTION, loadForceConfig } from './config-option.js';
import { withForceSession } from './session.js';

/** `hindsight-force backup` and `restore`: the force folder and a consistent copy of its database, encrypted. */
export function registerForceBackup(force: Command): void {
  const backup = withSecretOptions(force
    .command('backup')
    .description('write an encrypted backup of the force: database, config, keys, key set, broker kit, evidence store (not the gallery index: it is rebuilt)')
    .requiredOption('-o, --out <file>', 'the backup file to write (must not exist)')
    .option(...FORCE_CONFIG_OPTION));
  backup.action(async (opts: SecretOptions & { out: string; config?: string }) => {
    const secret = await readBackupSecret(opts, true);
    const c = loadForceConfig(opts.config);
    const started = Date.now();
    const m = await backupForce({ dir: c.force.dir, out: opts.out, secret, version: daemonVersion(), now: started });
    await withForceSession(c.force.dir, (s) => s.audit.append({ actor: s.actor, action: 'system.backup', detail: { file: opts.out, files: m.info.files, schema_version: m.info.schema_version } }));
    const bytes = m.members.reduce((n, x) => n + x.size, 0);
    process.stdout.write(`backup written: ${opts.out}\n  schema ${m.info.schema_version}, ${m.members.length} files, ${bytes} bytes before encryption, ${((Date.now() - started) / 1000).toFixed(1)} s\n  it holds the force's private keys: keep it like the keys themselves\n`);
  });

  const restore = withSecretOptions(force
    .command('restore')
    .description('put a force backup back into --dir (receivers and console stopped); what was there is moved aside whole, never deleted')
    .requiredOption('-i, --in <file>', 'the backup file')
    .requiredOption('--dir <dir>', 'the force folder to restore into (force.dir of the config)'));
  restore.action(async (opts: SecretOptions & { in: string; dir: string }) => {
    const secret = await readBackupSecret(opts, false);
    const r = restoreForce({ in: opts.in, dir: opts.dir, secret, now: Date.now() });
    const when = new Date(r.manifest.created_at).toISOString();
    await withForceSession(opts.dir, (s) => s.audit.append({ actor: s.actor, action: 'system.restored', detail: { backup_created_at: r.manifest.created_at, files: r.manifest.info.files } }));
    process.stdout.write(
      [
        `restored the force backup of ${when} into ${opts.dir}`,
        ...(r.movedAside ? [`  kept what was there: ${r.movedAside}`] : []),
        '  boxes carry on: their audit heads extend heads this force acknowledged (it checks its own signed acknowledgements), and command numbers follow the clock',
        `  evidence received after ${when} is not in this copy, and boxes do not send again what this force confirmed; while a box still keeps an incident's master clips, \`hindsight-force fleet cmd BOX upload_masters --arg incident_id=ID\` fetches them`,
        'next: start the receivers and the console',
      ].join('\n') + '\n',
    );
  });
}
