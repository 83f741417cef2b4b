import { forceConfigLoader } from '../config-loader.js';
import type { ForceConfig } from '../config.js';

export const FORCE_CONFIG_OPTION = ['-c, --config <file>', 'force config file (default: $HINDSIGHT_FORCE_CONFIG, else ./force.yaml)'] as const;

/** The force config a command runs with: --config, else $HINDSIGHT_FORCE_CONFIG, else ./force.yaml. */
export function loadForceConfig(option: string | undefined): ForceConfig {
  const file = option ?? process.env.HINDSIGHT_FORCE_CONFIG ?? 'force.yaml';
  return forceConfigLoader.loadFile(file, process.env);
}
