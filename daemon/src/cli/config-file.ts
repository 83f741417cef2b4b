import { existsSync } from 'node:fs';
import { buildConfig, loadConfigFile } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { UsageError } from '../util/errors.js';
import { useSandbox } from '../util/sandbox.js';

export const DEFAULT_CONFIG_FILE = '/etc/hindsight/config.yaml';

/** The `--config FILE` option of every box command. */
export const CONFIG_OPTION = ['-c, --config <file>', 'config file (default: $HINDSIGHT_CONFIG or /etc/hindsight/config.yaml)'] as const;

/** --config FILE, else $HINDSIGHT_CONFIG, else /etc/hindsight/config.yaml. */
export function configPath(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return option ?? env.HINDSIGHT_CONFIG ?? DEFAULT_CONFIG_FILE;
}

export function loadCliConfig(option: string | undefined, env: NodeJS.ProcessEnv = process.env): Config {
  const file = configPath(option, env);
  if (!option && !env.HINDSIGHT_CONFIG && !existsSync(file)) {
    throw new UsageError(`no configuration: ${file} does not exist`, {
      hint: 'pass --config FILE or set HINDSIGHT_CONFIG (config/hindsight.example.yaml is a starting point)',
    });
  }
  return withPolicies(loadConfigFile(file, env));
}

/** For commands that work without a config (doctor): the file if there is one, else the defaults. */
export function loadConfigOrDefaults(option: string | undefined, env: NodeJS.ProcessEnv = process.env): Config {
  const file = configFileInUse(option, env);
  return withPolicies(file ? loadConfigFile(file, env) : buildConfig({ device: { id: 'unenrolled' } }, { env }));
}

/** The config file a command reads, or undefined when there is none and the built-in defaults apply. */
export function configFileInUse(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = configPath(option, env);
  return option || env.HINDSIGHT_CONFIG || existsSync(file) ? file : undefined;
}

/** Process-wide choices the config makes (how media tools are sandboxed), applied as it is loaded. */
function withPolicies(config: Config): Config {
  useSandbox(config.tools.sandbox);
  return config;
}
