import type { Command } from 'commander';
import { WebRepo } from '../../db/repos/web.js';
import { createLogger } from '../../log/logger.js';
import { systemClock } from '../../util/clock.js';
import { HindsightError } from '../../util/errors.js';
import { ForceConsole } from '../console/console.js';
import { openForceDb } from '../database.js';
import { FORCE_CONFIG_OPTION, loadForceConfig } from './config-option.js';

const out = (text: string): void => void process.stdout.write(text);

/** `hindsight-force console`: the reviewers' web console, and the one-time code of its first admin. */
export function registerForceConsole(force: Command): void {
  const consoleCommand = force
    .command('console')
    .description("run the reviewers' web console (HTTPS: triage, case review, case reports; accounts with reviewer, supervisor and admin roles); stops on SIGINT/SIGTERM")
    .option(...FORCE_CONFIG_OPTION)
    .action(async (opts: { config?: string }) => {
      const config = loadForceConfig(opts.config);
      const log = createLogger({ level: config.log.level, pretty: config.log.pretty });
      const server = new ForceConsole(config, log);
      const at = await server.start();
      out(
        `console at ${at.url} (certificate SHA-256 ${at.fingerprint})\n` +
          (at.setupCode ? `no admin yet: open the console and enter the setup code ${at.setupCode} (\`hindsight-force console setup-code\` shows it again)\n` : ''),
      );
      await untilStopSignal();
      await server.stop();
      out('console stopped\n');
    });

  consoleCommand
    .command('setup-code')
    .description("show the one-time code that makes the console's first admin account")
    .option(...FORCE_CONFIG_OPTION)
    .action((_opts: { config?: string }, cmd: Command) => {
      // the option may come before or after `setup-code`: the console's own, or this command's
      const config = loadForceConfig((cmd.optsWithGlobals() as { config?: string }).config);
      const fdb = openForceDb(config.force.dir, systemClock);
      try {
        const repo = new WebRepo(fdb.db, systemClock);
        if (repo.activeAccounts('admin') > 0) throw new HindsightError('the console already has an admin: the setup code is used up', { code: 'setup_done', hint: 'log in as an admin; an admin adds other accounts' });
        const saved = repo.setupCode();
        if (!saved || saved.used) throw new HindsightError('there is no setup code yet', { code: 'no_setup_code', hint: 'start the console (`hindsight-force console`): it makes the code at its first start' });
        out(`${saved.code}\n`);
      } finally {
        fdb.close();
      }
    });
}

function untilStopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
  });
}
