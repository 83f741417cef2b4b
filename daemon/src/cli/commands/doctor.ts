import type { Command } from 'commander';
import { daemonPaths } from '../../config/paths.js';
import { runChecks } from '../../doctor/checks.js';
import { configFileInUse, configPath, loadConfigOrDefaults } from '../config-file.js';
import { table } from '../../program/output.js';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check ffmpeg, models and their hashes, onnxruntime, disk and state dir; exit 1 when something required is missing')
    .option('-c, --config <file>', 'config file (default: $HINDSIGHT_CONFIG or /etc/hindsight/config.yaml, else built-in defaults)')
    .option('--models-dir <dir>', 'check the models in this folder instead of the configured one')
    .option('--dev', "also check what the demo and the tests need (Mosquitto, the GStreamer RTSP test camera)")
    .option('--json', 'print the results as JSON')
    .action(async (opts: { config?: string; modelsDir?: string; json?: boolean; dev?: boolean }) => {
      const file = configFileInUse(opts.config);
      const config = loadConfigOrDefaults(opts.config);
      const paths = daemonPaths(config);
      if (opts.modelsDir) paths.modelsDir = opts.modelsDir;
      const results = await runChecks(config, paths, { dev: opts.dev });
      const source = file ? `config: ${file}` : `no config file (${configPath(undefined)} does not exist): checked with the built-in defaults`;
      const failed = results.filter((r) => r.required && r.state === 'missing');
      if (opts.json) {
        process.stdout.write(JSON.stringify({ ok: failed.length === 0, config: file ?? null, checks: results }, null, 2) + '\n');
      } else {
        process.stdout.write(`${source}\n\n`);
        process.stdout.write(table(['CHECK', 'STATUS', 'DETAIL'], results.map((r) => [r.check, r.state, r.detail])));
        const fixes = results.filter((r) => r.fix && r.state !== 'ok');
        if (fixes.length) {
          process.stdout.write('\nTo fix:\n');
          for (const r of fixes) process.stdout.write(`  ${r.check}: ${r.fix}\n`);
        }
        process.stdout.write(failed.length ? `\n${failed.length} required check(s) failed.\n` : '\nAll required checks passed.\n');
      }
      process.exitCode = failed.length ? 1 : 0;
    });
}
