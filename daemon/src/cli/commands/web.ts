import type { Command } from 'commander';
import { daemonPaths } from '../../config/paths.js';
import { openDatabase } from '../../db/db.js';
import { WebRepo } from '../../db/repos/web.js';
import { systemClock } from '../../util/clock.js';
import { HindsightError } from '../../util/errors.js';
import { webFingerprint } from '../../web/doctor.js';
import { CONFIG_OPTION, loadCliConfig } from '../config-file.js';

export function registerWeb(program: Command): void {
  const web = program.command('web').description("the box's web app (staff page and manager console)");

  web
    .command('setup-code')
    .description('show the one-time code that makes the first manager account in the web app')
    .option(...CONFIG_OPTION)
    .action((opts: { config?: string }) => {
      const config = loadCliConfig(opts.config);
      const paths = daemonPaths(config);
      const notYet = new HindsightError('there is no setup code yet', { code: 'no_setup_code', hint: 'set web.enabled: true in the config and start the daemon: it makes the code at its first start' });
      let db;
      try {
        db = openDatabase(paths.database, { readonly: true });
      } catch {
        throw notYet;
      }
      try {
        const repo = new WebRepo(db, systemClock);
        let managers: number;
        let saved: { code: string; used: boolean } | undefined;
        try {
          managers = repo.managers();
          saved = repo.setupCode();
        } catch {
          throw notYet; // a database the daemon has not yet brought to the web app's schema
        }
        if (managers > 0) throw new HindsightError('the box already has a manager: the setup code is used up', { code: 'setup_done', hint: 'log in as a manager; a manager adds other accounts' });
        if (!saved || saved.used) throw notYet;
        const fp = webFingerprint(config, paths);
        process.stdout.write(`${saved.code}\n`);
        process.stderr.write(`open https://<this box>:${config.web.port}/ and enter it${fp ? `; the certificate's SHA-256 is ${fp}` : ''}\n`);
      } finally {
        db.close();
      }
    });

  web
    .command('status')
    .description("the web app's port and its certificate fingerprint (compare it with what the browser shows)")
    .option(...CONFIG_OPTION)
    .action((opts: { config?: string }) => {
      const config = loadCliConfig(opts.config);
      const fp = webFingerprint(config, daemonPaths(config));
      process.stdout.write(`web app: ${config.web.enabled ? `on, https port ${config.web.port}` : 'off (web.enabled: false)'}\ncertificate SHA-256: ${fp ?? 'not made yet (made at the first start with the web app on)'}\n`);
    });
}
