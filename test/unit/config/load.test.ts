import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Type } from '@sinclair/typebox';
import { buildConfig, ConfigError, ConfigLoader, configJsonSchema, loadConfigFile, parseConfig } from '../../../daemon/src/config/load.js';
import { CONFIG_VERSION } from '../../../daemon/src/config/migrations.js';
import { issuesOf } from '../../helpers/config-issues.js';
import { REPO_ROOT, tempDir } from '../../helpers/paths.js';

describe('config', () => {
  it('fills every default from the schema', () => {
    const c = parseConfig('device: {id: shop-7}\n');
    expect(c.device.id).toBe('shop-7');
    expect(c.log.level).toBe('info');
    expect(c.paths.state_dir).toBe('/var/lib/hindsight');
    expect(c.tools.ffmpeg).toBe('ffmpeg');
  });

  it('lists an unknown key, a wrong type and a missing required value together, by path', () => {
    const issues = issuesOf(() => parseConfig('device:\n  colour: red\npaths:\n  state_dir: 42\n'));
    expect(issues).toEqual(
      expect.arrayContaining([
        { path: 'device.id', message: 'is required' },
        expect.objectContaining({ path: 'device.colour', message: expect.stringContaining('unknown key') }),
        { path: 'paths.state_dir', message: 'must be string' },
      ]),
    );
    expect(issues).toHaveLength(3);
  });

  it('names the allowed values of an enum', () => {
    const issues = issuesOf(() => parseConfig('device: {id: a}\nlog: {level: loud}\n'));
    expect(issues).toEqual([{ path: 'log.level', message: 'must be one of: fatal, error, warn, info, debug, trace' }]);
  });

  it('refuses unsafe device ids', () => {
    for (const id of ['../x', 'a/b', '', '-rf', 'x'.repeat(65)]) {
      expect(issuesOf(() => buildConfig({ device: { id } })).map((i) => i.path)).toEqual(['device.id']);
    }
  });

  it('reports YAML syntax errors instead of throwing a stack', () => {
    const issues = issuesOf(() => parseConfig('device: {id: [\n'));
    expect(issues[0]?.message).toMatch(/not valid YAML/);
  });

  it('takes HINDSIGHT_SECTION__KEY overrides with the schema type, and refuses unknown ones', () => {
    const c = parseConfig('device: {id: a}\n', { env: { HINDSIGHT_LOG__LEVEL: 'debug', HINDSIGHT_SYSTEMD__NOTIFY: 'false', HINDSIGHT_CONFIG: '/x' } });
    expect(c.log.level).toBe('debug');
    expect(c.systemd.notify).toBe(false);
    const issues = issuesOf(() => parseConfig('device: {id: a}\n', { env: { HINDSIGHT_LOG__COLOUR: 'red' } }));
    expect(issues).toEqual([{ path: 'log.colour', message: 'unknown key (from environment variable HINDSIGHT_LOG__COLOUR)' }]);
  });

  it('resolves relative paths against the config file folder', () => {
    const dir = tempDir();
    const file = path.join(dir, 'c.yaml');
    writeFileSync(file, 'device: {id: a}\npaths: {state_dir: ./state}\n');
    expect(loadConfigFile(file, {}).paths.state_dir).toBe(path.join(dir, 'state'));
  });

  it('refuses a config that is not a mapping', () => {
    expect(issuesOf(() => parseConfig('- a\n- b\n'))[0]?.message).toMatch(/mapping/);
  });

  it('keeps config/hindsight.schema.json in step with the schema in code', () => {
    const committed = JSON.parse(readFileSync(path.join(REPO_ROOT, 'config', 'hindsight.schema.json'), 'utf8')) as unknown;
    expect(committed, 'run `npm run schema` to regenerate config/hindsight.schema.json').toEqual(configJsonSchema());
  });

  it('accepts the example config, which says it is of the current format version', () => {
    const c = loadConfigFile(path.join(REPO_ROOT, 'config', 'hindsight.example.yaml'), {});
    expect(c.device.id).toMatch(/\w/);
    expect(readFileSync(path.join(REPO_ROOT, 'config', 'hindsight.example.yaml'), 'utf8')).toMatch(new RegExp(`^version: ${CONFIG_VERSION}\\b`, 'm'));
  });
});

describe('config format version', () => {
  it('loads a file without a version (version 0, the format before versions) as the current version', () => {
    const c = parseConfig('device: {id: shop-7}\nlog: {level: warn}\n');
    expect(CONFIG_VERSION).toBe(1);
    expect(c.version).toBe(1);
    expect(c.device.id).toBe('shop-7');
    expect(c.log.level).toBe('warn');
    expect(parseConfig('version: 0\ndevice: {id: shop-7}\n').version).toBe(1);
    expect(parseConfig('version: 1\ndevice: {id: shop-7}\n').version).toBe(1);
  });

  it('refuses a file of a newer version, naming the version it has and the one this daemon supports', () => {
    let error: unknown;
    try {
      parseConfig('version: 2\ndevice: {id: shop-7}\n', { source: 'new.yaml' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const e = error as ConfigError;
    expect(e.issues).toEqual([{ path: 'version', message: 'this file is config version 2, but this daemon supports config versions up to 1: it was written for a newer Hindsight' }]);
    expect(e.message).toMatch(/^new\.yaml: 1 problem/);
    expect(e.hint).toMatch(/upgrade Hindsight/);
    expect(issuesOf(() => parseConfig('version: one\ndevice: {id: a}\n'))).toEqual([{ path: 'version', message: expect.stringMatching(/must be a whole number/) }]);
    expect(issuesOf(() => parseConfig('version: 1.5\ndevice: {id: a}\n')).map((i) => i.path)).toEqual(['version']);
  });

  it("runs the migrations from the file's version up, in order, before validating", () => {
    const schema = Type.Object({ version: Type.Integer(), retention: Type.Object({ hours: Type.Integer() }, { additionalProperties: false }) }, { additionalProperties: false });
    const ran: number[] = [];
    const loader = new ConfigLoader<{ version: number; retention: { hours: number } }>(schema, 'TEST_', {
      current: 2,
      migrations: [
        // 0 -> 1: `keep_days` became `keep_hours`; 1 -> 2: the key moved into a section
        { from: 0, what: 'days to hours', migrate: ({ keep_days, ...rest }) => (ran.push(0), { ...rest, keep_hours: (keep_days as number) * 24 }) },
        { from: 1, what: 'into retention', migrate: ({ keep_hours, ...rest }) => (ran.push(1), { ...rest, retention: { hours: keep_hours } }) },
      ],
    });
    expect(loader.parse('keep_days: 2\n')).toEqual({ version: 2, retention: { hours: 48 } });
    expect(ran).toEqual([0, 1]);
    ran.length = 0;
    expect(loader.parse('version: 1\nkeep_hours: 5\n')).toEqual({ version: 2, retention: { hours: 5 } });
    expect(ran).toEqual([1]);
    ran.length = 0;
    expect(loader.parse('version: 2\nretention: {hours: 7}\n')).toEqual({ version: 2, retention: { hours: 7 } });
    expect(ran).toEqual([]);
    expect(issuesOf(() => loader.parse('version: 3\nretention: {hours: 7}\n'))[0]?.message).toBe('this file is config version 3, but this daemon supports config versions up to 2: it was written for a newer Hindsight');
  });
});

describe('secrets from files', () => {
  const schema = { type: 'object', properties: { mqtt: { type: 'object', properties: { password: { type: 'string', secret: true }, host: { type: 'string' } } } } };

  it('reads <key>_file for secret keys, relative to the config folder, without the trailing newline', async () => {
    const { resolveSecretFiles } = await import('../../../daemon/src/config/load.js');
    const dir = tempDir();
    writeFileSync(path.join(dir, 'pw'), 's3cret\n');
    const data: Record<string, unknown> = { mqtt: { password_file: 'pw' } };
    const issues: { path: string; message: string }[] = [];
    resolveSecretFiles(data, schema, '', dir, issues);
    expect(issues).toEqual([]);
    expect(data).toEqual({ mqtt: { password: 's3cret' } });
  });

  it('refuses both forms at once, unreadable files, and _file on keys that are not secrets', async () => {
    const { resolveSecretFiles } = await import('../../../daemon/src/config/load.js');
    const dir = tempDir();
    const issues: { path: string; message: string }[] = [];
    resolveSecretFiles({ mqtt: { password: 'a', password_file: 'pw' } }, schema, '', dir, issues);
    resolveSecretFiles({ mqtt: { password_file: 'nope' } }, schema, '', dir, issues);
    const data = { mqtt: { host_file: 'x' } };
    resolveSecretFiles(data, schema, '', dir, issues);
    expect(issues.map((i) => i.path)).toEqual(['mqtt.password_file', 'mqtt.password_file']);
    expect(issues[0]?.message).toMatch(/either/);
    expect(issues[1]?.message).toMatch(/ENOENT/);
    expect(data.mqtt.host_file).toBe('x'); // left for the validator to report as an unknown key
  });
});
