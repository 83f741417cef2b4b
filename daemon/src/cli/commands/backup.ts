import { connect } from 'node:net';
import type { Command } from 'commander';
import { backupBox, restoreBox } from '../../backup/box.js';
import { readBackupSecret, withSecretOptions, type SecretOptions } from '../../program/backup-secret.js';
import { daemonPaths } from '../../config/paths.js';
import { daemonVersion } from '../../config/version.js';
import { controlPaths } from '../../control/paths.js';
import { cliActor } from '../../program/operator.js';
import { HindsightError } from '../../util/errors.js';
import { CONFIG_OPTION, configPath, loadCliConfig } from '../config-file.js';

/** Whether a daemon answers on the control socket now (a restore under a running daemon would be lost). */
function daemonAnswers(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(socket);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export function registerBackup(program: Command): void {
  withSecretOptions(
    program
      .command('backup')
      .description("write an encrypted backup of the box: database (incidents, cameras, staff, audit chain), config, camera-credentials key, enrollment; not footage")
      .requiredOption('-o, --out <file>', 'the backup file to write (must not exist)')
      .option('--with-device-key', "also the box's device key: a copy of it is a copy of the box's identity (keep such a backup like the box itself)")
      .option(...CONFIG_OPTION),
  ).action(async (opts: SecretOptions & { out: string; withDeviceKey?: boolean; config?: string }) => {
    const secret = await readBackupSecret(opts, true);
    const config = loadCliConfig(opts.config);
    const started = Date.now();
    const m = await backupBox({ config, configFile: configPath(opts.config), out: opts.out, secret, withDeviceKey: opts.withDeviceKey === true, version: daemonVersion(), now: started });
    const bytes = m.members.reduce((n, x) => n + x.size, 0);
    process.stdout.write(
      `backup written: ${opts.out}\n` +
        `  device ${m.info.device_id}, schema ${m.info.schema_version}, ${m.info.audit.count} audit rows (head ${m.info.audit.head_hash.slice(0, 16)}...), ${m.members.length} files, ${bytes} bytes before encryption, ${((Date.now() - started) / 1000).toFixed(1)} s\n` +
        (m.info.device_key ? "  it holds the device key: whoever has it and the secret can act as this box\n" : '  without the device key: restore it on this box, or enrol the replacement box again\n'),
    );
  });

  withSecretOptions(
    program
      .command('restore')
      .description('put a backup back (the daemon must be stopped); what was there is moved aside, never deleted; the next start begins a new epoch the force acknowledges')
      .requiredOption('-i, --in <file>', 'the backup file')
      .option(...CONFIG_OPTION),
  ).action(async (opts: SecretOptions & { in: string; config?: string }) => {
    const secret = await readBackupSecret(opts, false);
    const file = configPath(opts.config);
    // a daemon running on the current config would keep writing the database being replaced
    let current: ReturnType<typeof loadCliConfig> | undefined;
    try {
      current = loadCliConfig(opts.config);
    } catch {
      current = undefined;
    }
    if (current && (await daemonAnswers(controlPaths(daemonPaths(current).runtimeDir).socket))) {
      throw new HindsightError('the daemon is running', { code: 'daemon_running', hint: 'stop it first (`systemctl stop hindsight`), then restore, then start it' });
    }
    const r = restoreBox({ in: opts.in, secret, configFile: file, env: process.env, restoredBy: cliActor().id, now: Date.now() });
    const i = r.manifest.info;
    const lines = [
      `restored the backup of ${new Date(r.manifest.created_at).toISOString()} (device ${i.device_id}, ${i.audit.count} audit rows) into ${r.stateDir}, config ${file}`,
      ...r.movedAside.map((m) => `  kept what was there: ${m.from} -> ${m.to}`),
      r.deviceKey === 'restored' ? '  device key: from the backup' : r.deviceKey === 'kept' ? "  device key: this box's own (the backup had none)" : '  device key: none (the backup had none): enrol this box again with a bundle from the force',
      ...(r.credentialsKeyAt ? [`  the camera-credentials key is a systemd credential here: put the backup's key at the LoadCredential= source of ${r.credentialsKeyAt}`] : []),
      `next: start the daemon (\`systemctl start hindsight\`): it begins epoch ${r.epoch}, and the force acknowledges it with the next audit head`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
  });
}
