import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { configJsonSchema, ConfigError, FIX_KEYS_HINT, formatIssues, loadConfigFile } from '../../config/load.js';

export function registerConfig(program: Command): void {
  const config = program.command('config').description('check a configuration file or print its schema');

  config
    .command('check')
    .description('validate a config file (with HINDSIGHT_* environment overrides); lists every problem; exit 2 when invalid')
    .argument('<file>', 'YAML or JSON config file')
    .action((file: string) => {
      try {
        const cfg = loadConfigFile(file);
        process.stdout.write(`ok: ${file} is a valid configuration for device ${cfg.device.id}\n`);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        process.stderr.write(`${file}: ${err.issues.length} problem${err.issues.length === 1 ? '' : 's'}\n${formatIssues(err.issues)}\n`);
        const todo = err.hint && err.hint !== FIX_KEYS_HINT ? err.hint : 'fix the keys listed; `hindsight config schema` shows every key with its type and default';
        process.stderr.write(`  what to do: ${todo}\n`);
        process.exitCode = 2;
      }
    });

  config
    .command('schema')
    .description('print the JSON Schema of the configuration (every key, type, default and description)')
    .option('--write <file>', 'write it to a file instead of stdout')
    .action((opts: { write?: string }) => {
      const text = JSON.stringify(configJsonSchema(), null, 2) + '\n';
      if (opts.write) writeFileSync(opts.write, text);
      else process.stdout.write(text);
    });
}
