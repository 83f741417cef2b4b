import { DAEMON_CONFIG_VERSIONING } from './migrations.js';
import { ConfigLoader, type ParseOptions } from './loader.js';
import { ConfigSchema, type Config } from './schema.js';
import { validateConfig } from './schema-validator.js';

export {
  ConfigError,
  ConfigLoader,
  FIX_KEYS_HINT,
  formatIssues,
  migrateConfig,
  resolveSecretFiles,
  type ConfigIssue,
  type ConfigValidator,
  type ParseOptions,
  type SchemaNode,
} from './loader.js';

export const ENV_PREFIX = 'HINDSIGHT_';

type JsonObject = Record<string, unknown>;

/** Read, override from the environment, resolve `*_file` secrets, apply defaults and validate. */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  return daemonConfigLoader.loadFile(file, env);
}

export function parseConfig(text: string, options: ParseOptions = {}): Config {
  return daemonConfigLoader.parse(text, options);
}

/** Validate an already-parsed object (for the API and remote desired-config later). */
export function buildConfig(raw: JsonObject, options: ParseOptions = {}): Config {
  return daemonConfigLoader.build(raw, options);
}

/** The config's JSON Schema as a plain JSON document (for editors, the UI form and docs). */
export function configJsonSchema(): object {
  return { $schema: 'http://json-schema.org/draft-07/schema#', ...(JSON.parse(JSON.stringify(ConfigSchema)) as object) };
}

// the schema's validator is generated ahead of time (schema-validator.ts): compiling it took a fifth of a second at every start
const daemonConfigLoader = new ConfigLoader<Config>(ConfigSchema, ENV_PREFIX, DAEMON_CONFIG_VERSIONING, validateConfig);
