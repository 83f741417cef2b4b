import { chownSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { daemonPaths } from '../../config/paths.js';
import { extraWritableFolders, UNIT_DROP_IN, unitDropIn } from '../../config/writable.js';
import { HindsightError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/secure-fs.js';
import { CONFIG_OPTION, configPath, loadCliConfig } from '../config-file.js';

export function registerSystem(program: Command): void {
  const system = program.command('system').description('how the box is installed in the operating system (run as root)');

  system
    .command('unit-paths')
    .description(`print (or --write) the systemd drop-in ${UNIT_DROP_IN} that lets the daemon write the folders the config puts outside /var/lib/hindsight; run it after changing paths.*`)
    .option(...CONFIG_OPTION)
    .option('--write', 'write the drop-in (only when it differs; folders that do not exist yet are made, owned like the state folder)')
    .option('--drop-in <file>', 'where the drop-in goes', UNIT_DROP_IN)
    .action((opts: { config?: string; write?: boolean; dropIn: string }) => {
      const config = loadCliConfig(opts.config);
      const paths = daemonPaths(config);
      const text = unitDropIn(paths, path.resolve(configPath(opts.config)));
      if (!opts.write) return void process.stdout.write(text);
      const folders = extraWritableFolders(paths);
      for (const folder of folders) makeFolder(folder, paths.stateDir);
      let before: string | undefined;
      try {
        before = readFileSync(opts.dropIn, 'utf8');
      } catch {
        before = undefined;
      }
      if (before === text) return void process.stdout.write(`unchanged: ${opts.dropIn}\n`);
      try {
        mkdirSync(path.dirname(opts.dropIn), { recursive: true, mode: 0o755 });
        writeFileAtomic(opts.dropIn, text, 0o644);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EACCES') {
          throw new HindsightError(`permission denied writing ${opts.dropIn}`, { code: 'forbidden', hint: 'run it as root: sudo hindsight system unit-paths --write' });
        }
        throw err;
      }
      process.stdout.write(`written: ${opts.dropIn} (${folders.length ? folders.join(', ') : 'no folder outside /var/lib/hindsight'})\n`);
      process.stderr.write('then: systemctl daemon-reload && systemctl restart hindsight\n');
    });
}

/** A folder of the config that does not exist yet: made owner-and-group only, owned like the state folder. */
function makeFolder(folder: string, stateDir: string): void {
  try {
    statSync(folder);
    return;
  } catch {
    /* missing: made below */
  }
  mkdirSync(folder, { recursive: true, mode: 0o750 });
  try {
    const owner = statSync(stateDir);
    if (process.getuid?.() === 0) chownSync(folder, owner.uid, owner.gid);
  } catch {
    /* no state folder yet: the daemon's user is unknown, the folder stays root's */
  }
  process.stdout.write(`made: ${folder}\n`);
}
