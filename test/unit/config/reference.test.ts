import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG_FILE } from '../../../daemon/src/cli/config-file.js';
import { configJsonSchema } from '../../../daemon/src/config/load.js';
import { configReference, ReferenceError } from '../../../daemon/src/config/reference.js';
import { CONFIG_REFERENCE_FILE, configReferenceMarkdown } from '../../../daemon/src/devkit/config-reference.js';
import { ForceConfigSchema } from '../../../daemon/src/force/config.js';
import { runCommand } from '../../../daemon/src/util/child.js';
import { REPO_ROOT } from '../../helpers/paths.js';

interface Node {
  default?: unknown;
  properties?: Record<string, Node>;
}

/** Every leaf key of a schema, dotted, with its default. */
function leaves(node: Node, prefix = ''): [string, unknown][] {
  return Object.entries(node.properties ?? {}).flatMap(([name, child]) => (child.properties ? leaves(child, `${prefix}${name}.`) : [[prefix + name, child.default] as [string, unknown]]));
}

const boxSchema = configJsonSchema();
const forceSchema = JSON.parse(JSON.stringify(ForceConfigSchema)) as object;
const committed = readFileSync(path.join(REPO_ROOT, CONFIG_REFERENCE_FILE), 'utf8');

/** The table row of `key` in the part of the page that starts at `from`. */
function rowOf(page: string, from: string, key: string): string | undefined {
  return page
    .slice(page.indexOf(from))
    .split('\n')
    .find((line) => line.startsWith(`| \`${key}\` |`));
}

describe('the configuration reference (daemon/docs/configuration.md)', () => {
  it('is what the schemas give now', () => {
    const fresh = configReferenceMarkdown(boxSchema, forceSchema);
    const at = [...committed].findIndex((c, i) => c !== fresh[i]);
    expect(committed === fresh ? 'same' : `differs at character ${at}: ${JSON.stringify(committed.slice(at, at + 80))}`, 'run `npm run build && npm run schema` to regenerate it').toBe('same');
  });

  it('has a row for every key of both files, with its default, in a table of six cells', () => {
    const parts = [
      ['## The box', leaves(boxSchema as Node)],
      ['## The force', leaves(forceSchema as Node)],
    ] as const;
    for (const [from, keys] of parts) {
      expect(keys.length).toBeGreaterThan(20);
      for (const [key, def] of keys) {
        const row = rowOf(committed, from, key);
        expect(row, `${from}: ${key}`).toBeDefined();
        // split on the pipes that are not escaped
        const cells = row!.split(/(?<!\\)\|/).slice(1, -1);
        expect(cells, row).toHaveLength(6);
        expect(cells[2]!.trim(), key).toBe(def === undefined ? '(required)' : `\`${JSON.stringify(def)}\``);
      }
    }
  });

  it('names the environment variable the loader reads, and none for a top-level key', () => {
    expect(rowOf(committed, '## The box', 'vision.detector.score_threshold')).toContain('`HINDSIGHT_VISION__DETECTOR__SCORE_THRESHOLD`');
    expect(rowOf(committed, '## The force', 'caps.max_chunks')).toContain('`HSFORCE_CAPS__MAX_CHUNKS`');
    expect(rowOf(committed, '## The box', 'version')!.trimEnd().endsWith('| - |')).toBe(true);
  });

  it("names the box's default config file as the CLI has it", () => {
    expect(committed).toContain(`else \`${DEFAULT_CONFIG_FILE}\``);
  });

  it('says which keys a store manager or the force may change', () => {
    expect(rowOf(committed, '## The box', 'buffer.hours')).toContain("web app's Settings");
    expect(rowOf(committed, '## The box', 'incidents.max_window_s')).toContain('The force may set it remotely');
    expect(rowOf(committed, '## The box', 'vision.fps')).not.toContain('The force may set it');
  });

  const render = (properties: object) => configReference(['# t'], [{ title: 'f', intro: [], envPrefix: 'X_', schema: { type: 'object', properties: { s: { type: 'object', description: 'S.', properties } } } }]);

  it('refuses a key without a description, naming it and what to do', () => {
    expect(() => render({ k: { type: 'integer', default: 1 } })).toThrow(ReferenceError);
    expect(() => render({ k: { type: 'integer', default: 1 } })).toThrow('config key s.k has no description: add one to its schema');
  });

  it('refuses a key whose schema says nothing of its type, and a list without an item schema', () => {
    expect(() => render({ k: { description: 'K.' } })).toThrow('config key s.k: no type, enum or anyOf in its schema');
    expect(() => render({ k: { type: 'array', description: 'K.' } })).toThrow('config key s.k: a list without an item schema; give it `items`');
  });

  it('keeps a pipe or an angle-bracketed name in a description from breaking the table', () => {
    const page = render({ k: { type: 'string', description: 'a|b in <dir>/x, `<raw>`', default: '' } });
    expect(page).toContain('| a\\|b in &lt;dir&gt;/x, `<raw>` |');
  });

  it('is checked by scripts/config-reference.mjs --check against the built schemas', async () => {
    const r = await runCommand(process.execPath, [path.join(REPO_ROOT, 'scripts', 'config-reference.mjs'), '--check'], { timeoutMs: 60_000 });
    expect(r.stdout.toString('utf8')).toContain(`${CONFIG_REFERENCE_FILE}: up to date`);
    expect(r.code).toBe(0);
  });
});
