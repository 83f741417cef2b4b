/**
 * The config file's format version and how older files are brought up to it. A file without `version`
 * is version 0 (the format before versions were written). At load, the migrations from the file's version
 * up run in order, each turning version N into N+1; a file newer than CONFIG_VERSION is refused, so a
 * daemon never runs on keys it does not understand.
 */

export type RawConfig = Record<string, unknown>;

export interface ConfigMigration {
  /** The version this migration reads; it produces `from + 1`. */
  from: number;
  /** What changes, in words (for the changelog and the tests). */
  what: string;
  migrate(raw: RawConfig): RawConfig;
}

export interface ConfigVersioning {
  current: number;
  /** One per version below `current`, each `from` once. */
  migrations: readonly ConfigMigration[];
}

export const CONFIG_VERSION = 1;

export const CONFIG_MIGRATIONS: readonly ConfigMigration[] = [
  // Version 1 only starts writing the version: every key of version 0 keeps its name and meaning.
  { from: 0, what: 'the file says its format version (no key changes)', migrate: (raw) => raw },
];

export const DAEMON_CONFIG_VERSIONING: ConfigVersioning = { current: CONFIG_VERSION, migrations: CONFIG_MIGRATIONS };
