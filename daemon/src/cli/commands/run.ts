import type { Command } from 'commander';
import { Daemon } from '../../app/daemon.js';
import { AuditLog } from '../../audit/log.js';
import { credentialsKeyPath } from '../../cameras/credentials.js';
import { daemonPaths, type DaemonPaths } from '../../config/paths.js';
import { assertWritableFolders } from '../../config/writable.js';
import type { Config } from '../../config/schema.js';
import { openDatabase } from '../../db/db.js';
import { completeWipe, pendingWipe, type WipeTargets } from '../../fleet/wipe.js';
import { createLogger } from '../../log/logger.js';
import { LogRing } from '../../log/ring.js';
import { uplinkFiles } from '../../uplink/enrollment.js';
import { ConfigReload } from '../../app/reload.js';
import { CONFIG_OPTION, configPath, loadCliConfig } from '../config-file.js';
import { EXIT_FAILURE, EXIT_OK, reportError } from '../../program/output.js';

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('start the daemon with all its services; stops cleanly on SIGINT/SIGTERM; SIGHUP reads the config file again')
    .option(...CONFIG_OPTION)
    .action(async (opts: { config?: string }) => {
      const config = loadCliConfig(opts.config);
      // a folder the unit keeps read-only (a buffer moved to another disk) stops the start here, with the fix
      assertWritableFolders(daemonPaths(config));
      // recent lines, redacted, for the force's get_logs; stdout gets exactly what it always did
      const logRing = new LogRing();
      const log = createLogger({ level: config.log.level, pretty: config.log.pretty, tee: logRing });
      const daemon = new Daemon(config, { log, logRing });
      const { ctx } = daemon;
      // a wipe the force ordered before the process died is finished before anything starts
      const unfinished = pendingWipe(ctx.db);
      if (unfinished) {
        log.warn({ cmd_id: unfinished }, 'a wipe ordered by the force did not finish: finishing it before starting');
        const summary = completeWipe(ctx.db, ctx.audit, wipeTargets(config, ctx.paths));
        log.warn({ ...summary.rows, secret_files: summary.secret_files, footage_files: summary.footage_files, evidence_files: summary.evidence_files, failures: summary.failures.length }, 'wipe finished: this box is no longer enrolled');
      }
      let exitCode = EXIT_OK;
      let wiping: Promise<void> | undefined;
      const shutdown = (reason: string, code: number): void => {
        exitCode = Math.max(exitCode, code);
        // a wipe under way finishes before the process exits (else the next start finishes it)
        void daemon.stop(reason).then(() => wiping).then(() => process.exit(exitCode));
      };
      // a force wipe (a stolen box): stop every service, then destroy with nothing writing; the service
      // manager starts the daemon again, not enrolled
      ctx.bus.on('daemon.wipe_requested', ({ reason }) => {
        log.warn({ reason }, "wipe ordered by the force: stopping, then destroying this box's keys, enrollment and data");
        wiping ??= daemon.stop(`wipe: ${reason}`).then(() => {
          const db = openDatabase(ctx.paths.database);
          try {
            const summary = completeWipe(db, new AuditLog(db, ctx.clock, () => ctx.clockSync.current()), wipeTargets(config, ctx.paths));
            if (summary.failures.length) log.error({ failures: summary.failures }, 'the wipe could not delete everything: see the failures; delete them by hand');
            log.warn({ ...summary.rows, secret_files: summary.secret_files, footage_files: summary.footage_files, evidence_files: summary.evidence_files }, 'wipe finished: this box is no longer enrolled');
          } catch (err) {
            exitCode = EXIT_FAILURE;
            log.fatal({ err }, 'the wipe failed; it is tried again at the next start');
          } finally {
            db.close();
          }
        });
        shutdown(`wipe: ${reason}`, EXIT_OK);
      });
      // a force command: stop cleanly; systemd (Restart=always) starts the daemon again
      daemon.ctx.bus.on('daemon.restart_requested', ({ reason }) => {
        log.warn({ reason }, 'restart asked by the force: stopping; the service manager starts the daemon again');
        shutdown(`restart: ${reason}`, EXIT_OK);
      });
      // SIGHUP (systemctl reload): the config file again; the log level now, other changes at the next restart
      const reload = new ConfigReload({ file: configPath(opts.config), env: process.env, log });
      process.on('SIGHUP', () => void reload.reload());
      let signals = 0;
      for (const sig of ['SIGINT', 'SIGTERM'] as const) {
        process.on(sig, () => {
          signals += 1;
          if (signals > 1) {
            log.warn({ signal: sig }, 'second signal: exiting now');
            process.exit(EXIT_FAILURE);
          }
          shutdown(sig, EXIT_OK);
        });
      }
      process.on('uncaughtException', (err) => {
        log.fatal({ err }, 'uncaught exception; stopping');
        shutdown('uncaught exception', EXIT_FAILURE);
      });
      process.on('unhandledRejection', (err) => {
        log.fatal({ err }, 'unhandled promise rejection; stopping');
        shutdown('unhandled rejection', EXIT_FAILURE);
      });
      try {
        await daemon.start();
      } catch (err) {
        process.exitCode = reportError(err);
        await daemon.stop('start-up failure');
        process.exit(process.exitCode);
      }
      // Keep the event loop alive until a signal arrives, whatever the services hold open.
      setInterval(() => undefined, 1 << 30);
      await new Promise<never>(() => undefined);
    });
}

/**
 * The box's private files a wipe deletes: the device key and the enrollment (with the broker password),
 * and the camera credentials key when it is the box's own (a configured file or systemd credential is
 * the installer's to remove). Footage and evidence folders are the configured ones.
 */
function wipeTargets(config: Config, paths: DaemonPaths): WipeTargets {
  const uplink = uplinkFiles(paths.stateDir);
  const cameraKey = credentialsKeyPath(config.cameras.credentials_key_file, paths.stateDir);
  return {
    secretFiles: [uplink.deviceKey, uplink.enrollment, uplink.ca, ...(cameraKey.create ? [cameraKey.file] : [])],
    bufferDir: paths.bufferDir,
    evidenceDir: paths.evidenceDir,
  };
}
