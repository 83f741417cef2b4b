import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Ajv, CodeOptions, ErrorObject } from 'ajv';
import { parseDocument } from 'yaml';
import type { TSchema } from '@sinclair/typebox';
import type { ConfigVersioning } from './migrations.js';
import { HindsightError, UsageError } from '../util/errors.js';
import { illFormedTextPath } from '../util/text.js';
import { redactString } from '../log/redact.js';

/**
 * Reading a config file against a schema, for any schema: the daemon's (load.ts) and the force's own
 * file. What a file may hold, its defaults and its error messages come from the schema; the schema's
 * validator is generated ahead of time where start-up time matters (validator-code.ts, `npm run schema`).
 */

/** One problem in a config, named by its dotted path. */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** What to do about a config that does not validate (a refused version says something else). */
export const FIX_KEYS_HINT = 'fix the keys listed above; `hindsight config schema` shows every key with its type and default';

export class ConfigError extends HindsightError {
  constructor(
    readonly source: string,
    readonly issues: ConfigIssue[],
    hint = FIX_KEYS_HINT,
  ) {
    super(`${source}: ${issues.length} problem${issues.length === 1 ? '' : 's'} in the configuration\n${formatIssues(issues)}`, { code: 'config_invalid', hint });
  }
}

export function formatIssues(issues: ConfigIssue[]): string {
  return issues.map((i) => `  - ${i.path || '(top level)'}: ${i.message}`).join('\n');
}

type JsonObject = Record<string, unknown>;
export type SchemaNode = { type?: string; properties?: Record<string, SchemaNode>; anyOf?: SchemaNode[]; secret?: boolean; path?: boolean; items?: SchemaNode };

/** A config schema's validator: ajv's, compiled at first use or generated ahead of time (validator-code.ts). */
export interface ConfigValidator {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

/** The options every config validator is made with, compiled at run time or generated (validator-code.ts). */
export const CONFIG_AJV_OPTIONS = { allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true, verbose: true } as const;

/** The schemas' own annotations (no check of their own): `patternHint` is what to write instead, said when a key does not match its `pattern`. */
export const CONFIG_KEYWORDS = [
  { keyword: 'secret', schemaType: 'boolean' },
  { keyword: 'patternHint', schemaType: 'string' },
  { keyword: 'path', schemaType: 'boolean' },
] as const;

/** An ajv instance for config schemas; `code` adds ajv's code options (the generator's). */
export function configAjv(AjvClass: typeof Ajv, code?: CodeOptions): Ajv {
  const ajv = new AjvClass({ ...CONFIG_AJV_OPTIONS, ...(code ? { code } : {}) });
  for (const k of CONFIG_KEYWORDS) ajv.addKeyword({ ...k });
  return ajv;
}

/**
 * The one ajv instance of the schemas that have no generated validator, made when the first of them is
 * used: a program whose config validators were generated (the daemon's, the force's) never loads ajv.
 */
let sharedAjv: Ajv | undefined;
function compile(schema: object): ConfigValidator {
  sharedAjv ??= configAjv((createRequire(import.meta.url)('ajv') as typeof import('ajv')).Ajv);
  return sharedAjv.compile(schema);
}

export interface ParseOptions {
  source?: string;
  /** Folder that relative paths (and *_file secrets) are resolved against. */
  baseDir?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * The one config loader, for any TypeBox schema (or its plain JSON copy): the daemon's, and the force
 * receiver's own file. `envPrefix` names the environment overrides (<PREFIX><SECTION>__<KEY>).
 */
export class ConfigLoader<T> {
  private compiled: ConfigValidator | undefined;
  private readonly node: SchemaNode;

  /**
   * `versioning`: the file's format version and the migrations that bring older files up to it.
   * `validator`: the schema's validator generated ahead of time (`npm run schema`); without it the schema
   * is compiled when the first config is checked.
   */
  constructor(
    private readonly schema: TSchema | object,
    private readonly envPrefix: string,
    private readonly versioning?: ConfigVersioning,
    validator?: ConfigValidator,
  ) {
    this.compiled = validator;
    this.node = schema as SchemaNode;
  }

  private get validate(): ConfigValidator {
    return (this.compiled ??= compile(this.schema));
  }

  loadFile(file: string, env: NodeJS.ProcessEnv = process.env): T {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new UsageError(`cannot read config file ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`, {
        code: 'config_unreadable',
        hint: 'pass an existing file with --config FILE (config/hindsight.example.yaml is a starting point)',
      });
    }
    return this.parse(text, { source: file, baseDir: path.dirname(path.resolve(file)), env });
  }

  parse(text: string, options: ParseOptions = {}): T {
    const source = options.source ?? 'config';
    const issues: ConfigIssue[] = [];
    const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
    for (const e of doc.errors) issues.push({ path: '', message: `not valid YAML/JSON: ${e.message.split('\n')[0]}` });
    if (issues.length) throw new ConfigError(source, issues);
    const raw: unknown = doc.toJS() ?? {};
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new ConfigError(source, [{ path: '', message: 'the file must hold a mapping of sections (device:, paths:, ...)' }]);
    }
    return this.build(raw as JsonObject, { ...options, source });
  }

  build(raw: JsonObject, options: ParseOptions = {}): T {
    const source = options.source ?? 'config';
    const baseDir = options.baseDir ?? process.cwd();
    const issues: ConfigIssue[] = [];
    const data = this.versioning ? migrateConfig(structuredClone(raw), this.versioning, source) : structuredClone(raw);
    applyEnvOverrides(data, options.env ?? {}, issues, this.node, this.envPrefix);
    resolveSecretFiles(data, this.node, '', baseDir, issues);
    const illFormed = illFormedTextPath(data);
    if (illFormed !== undefined) issues.push({ path: illFormed, message: `is not valid Unicode text (a lone UTF-16 surrogate, e.g. a "\\ud800" escape); remove the broken character` });
    if (!this.validate(data)) issues.push(...collapseUnions(this.validate.errors ?? []).map(toIssue));
    if (issues.length) throw new ConfigError(source, dedupe(issues));
    resolvePaths(data, this.node, baseDir);
    return data as unknown as T;
  }
}

/**
 * Bring a config of an older format version up to the current one, running the migrations in order.
 * A file of a newer version than this program knows is refused: its keys may mean what this one cannot do.
 */
export function migrateConfig(raw: JsonObject, versioning: ConfigVersioning, source: string): JsonObject {
  const { current, migrations } = versioning;
  const given = raw.version ?? 0;
  if (typeof given !== 'number' || !Number.isInteger(given) || given < 0) {
    throw new ConfigError(source, [{ path: 'version', message: `must be a whole number, the file's format version (${current} is current; a file without it is version 0)` }]);
  }
  if (given > current) {
    throw new ConfigError(
      source,
      [{ path: 'version', message: `this file is config version ${given}, but this daemon supports config versions up to ${current}: it was written for a newer Hindsight` }],
      `upgrade Hindsight, or write the file in the version ${current} format (\`hindsight config schema\` shows it)`,
    );
  }
  let data = raw;
  for (let v = given; v < current; v++) {
    const step = migrations.find((m) => m.from === v);
    if (!step) throw new Error(`no config migration from version ${v}`);
    data = { ...step.migrate(data), version: v + 1 };
  }
  return data;
}

function dedupe(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.path}\0${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** An anyOf failure also reports each branch's failure; keep only the anyOf line. */
function collapseUnions(errors: ErrorObject[]): ErrorObject[] {
  const unions = errors.filter((e) => e.keyword === 'anyOf').map((e) => e.schemaPath);
  return errors.filter((e) => e.keyword === 'anyOf' || !unions.some((u) => e.schemaPath.startsWith(u.slice(0, -'anyOf'.length))));
}

function pointerToPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

function toIssue(e: ErrorObject): ConfigIssue {
  const at = pointerToPath(e.instancePath);
  const join = (key: string): string => (at ? `${at}.${key}` : key);
  switch (e.keyword) {
    case 'additionalProperties':
      return { path: join(String(e.params.additionalProperty)), message: 'unknown key (check the spelling; `hindsight config schema` lists the keys)' };
    case 'required':
      return { path: join(String(e.params.missingProperty)), message: 'is required' };
    case 'type':
      return { path: at, message: `must be ${String(e.params.type)}` };
    case 'anyOf':
      return { path: at, message: 'is not one of the allowed values (see `hindsight config schema`)' };
    case 'enum':
      return { path: at, message: `must be one of: ${(e.params.allowedValues as unknown[]).join(', ')}` };
    case 'pattern': {
      const hint = (e.parentSchema as { patternHint?: string } | undefined)?.patternHint;
      if (hint) return { path: at, message: `${JSON.stringify(redactString(String(e.data)).slice(0, 200))} is not allowed: ${hint}` };
      return { path: at, message: e.message ?? e.keyword };
    }
    case 'const':
      return { path: at, message: `must be ${JSON.stringify(e.params.allowedValue)}` };
    default:
      return { path: at, message: e.message ?? e.keyword };
  }
}

function nodeAt(schema: SchemaNode, keys: string[]): SchemaNode | undefined {
  let node: SchemaNode | undefined = schema;
  for (const k of keys) {
    node = node?.properties?.[k];
    if (!node) return undefined;
  }
  return node;
}

function scalarType(node: SchemaNode): string | undefined {
  if (node.type) return node.type;
  const types = new Set((node.anyOf ?? []).map((n) => n.type));
  if (types.size === 1) return [...types][0];
  return undefined;
}

/**
 * HINDSIGHT_<SECTION>__<KEY>[__<KEY>...]=value overrides a key (double underscore between levels).
 * Other HINDSIGHT_* variables (HINDSIGHT_CONFIG...) are not config keys and are ignored.
 */
function applyEnvOverrides(data: JsonObject, env: NodeJS.ProcessEnv, issues: ConfigIssue[], schema: SchemaNode, prefix: string): void {
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(prefix) || !name.includes('__') || value === undefined) continue;
    const keys = name.slice(prefix.length).toLowerCase().split('__');
    const fileKey = keys[keys.length - 1]?.endsWith('_file');
    const lookup = fileKey ? [...keys.slice(0, -1), keys[keys.length - 1]!.slice(0, -5)] : keys;
    const node = nodeAt(schema, lookup);
    if (!node || (fileKey && !node.secret)) {
      issues.push({ path: keys.join('.'), message: `unknown key (from environment variable ${name})` });
      continue;
    }
    let parsed: unknown = value;
    const t = fileKey ? 'string' : scalarType(node);
    if (t === 'integer' || t === 'number') parsed = value.trim() === '' ? value : Number(value);
    else if (t === 'boolean') parsed = value === 'true' ? true : value === 'false' ? false : value;
    else if (t === 'array' || t === 'object') {
      try {
        parsed = JSON.parse(value);
      } catch {
        issues.push({ path: keys.join('.'), message: `environment variable ${name} must hold JSON` });
        continue;
      }
    }
    let target = data;
    for (const k of keys.slice(0, -1)) {
      const next = target[k];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) target[k] = {};
      target = target[k] as JsonObject;
    }
    target[keys[keys.length - 1]!] = parsed;
  }
}

export function resolveSecretFiles(data: JsonObject, schema: SchemaNode, at: string, baseDir: string, issues: ConfigIssue[]): void {
  for (const [key, value] of Object.entries(data)) {
    const here = at ? `${at}.${key}` : key;
    const child = schema.properties?.[key];
    if (child?.properties && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      resolveSecretFiles(value as JsonObject, child, here, baseDir, issues);
      continue;
    }
    if (!key.endsWith('_file') || child) continue;
    const base = key.slice(0, -5);
    if (!schema.properties?.[base]?.secret) continue; // left for the validator to report as unknown
    const baseHere = at ? `${at}.${base}` : base;
    if (typeof value !== 'string') {
      issues.push({ path: here, message: 'must be a file path' });
    } else if (data[base] !== undefined) {
      issues.push({ path: here, message: `give either ${baseHere} or ${here}, not both` });
    } else {
      try {
        data[base] = readFileSync(path.resolve(baseDir, value), 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        issues.push({ path: here, message: `cannot read secret file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      }
    }
    delete data[key];
  }
}

function resolvePaths(data: JsonObject, schema: SchemaNode, baseDir: string): void {
  for (const [key, value] of Object.entries(data)) {
    const child = schema.properties?.[key];
    if (!child) continue;
    if (child.path && typeof value === 'string' && value !== '') data[key] = path.resolve(baseDir, value);
    else if (child.properties && typeof value === 'object' && value !== null) resolvePaths(value as JsonObject, child, baseDir);
  }
}
