import type { Command } from 'commander';
import { Daemon } from '../../app/daemon.js';
import { createLogger } from '../../log/logger.js';
import { CONFIG_OPTION, loadCliConfig } from '../config-file.js';
import { EXIT_FAILURE, EXIT_OK, reportError } from '../../program/output.js';

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('start the daemon with all its services; stops cleanly on SIGINT/SIGTERM')
    .option(...CONFIG_OPTION)
    .action(async (opts: { config?: string }) => {
      const config = loadCliConfig(opts.config);
      const log = createLogger({ level: config.log.level, pretty: config.log.pretty });
      const daemon = new Daemon(config, { log });
      let exitCode = EXIT_OK;
      const shutdown = (reason: string, code: number): void => {
        exitCode = Math.max(exitCode, code);
        void daemon.stop(reason).then(() => process.exit(exitCode));
      };
      // a force command: stop cleanly; systemd (Restart=always) starts the daemon again
      daemon.ctx.bus.on('daemon.restart_requested', ({ reason }) => {
        log.warn({ reason }, 'restart asked by the force: stopping; the service manager starts the daemon again');
        shutdown(`restart: ${reason}`, EXIT_OK);
      });
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
