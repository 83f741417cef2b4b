import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigLoader, parseConfig } from '../../../daemon/src/config/load.js';
import { DAEMON_CONFIG_VERSIONING } from '../../../daemon/src/config/migrations.js';
import { ConfigSchema } from '../../../daemon/src/config/schema.js';
import { validatorModuleSource } from '../../../daemon/src/config/validator-code.js';
import { CONFIG_VALIDATORS } from '../../../daemon/src/devkit/validators.js';
import { ForceConfigSchema } from '../../../daemon/src/force/config.js';
import { forceConfigLoader } from '../../../daemon/src/force/config-loader.js';
import { issuesOf } from '../../helpers/config-issues.js';
import { REPO_ROOT, tempDir } from '../../helpers/paths.js';

/** What loading `text` gives: the config, or the issues of its ConfigError. */
function outcome(load: (text: string) => unknown, text: string): unknown {
  try {
    return { config: load(text) };
  } catch {
    return { issues: issuesOf(() => load(text)) };
  }
}

describe('the config validators generated from the schemas', () => {
  for (const v of CONFIG_VALIDATORS) {
    it(`${v.file} is what ${v.from} gives now`, () => {
      const committed = readFileSync(path.join(REPO_ROOT, v.file), 'utf8');
      const fresh = validatorModuleSource(v.schema, v);
      const at = [...committed].findIndex((c, i) => c !== fresh[i]);
      // the first difference, not a diff of a quarter of a megabyte
      expect(committed === fresh ? 'same' : `differs at character ${at}: ${JSON.stringify(committed.slice(at, at + 80))}`, 'run `npm run build && npm run schema` to regenerate it').toBe('same');
    });
  }

  const dir = tempDir();
  const daemonCompiled = new ConfigLoader(ConfigSchema, 'HINDSIGHT_', DAEMON_CONFIG_VERSIONING);
  const forceCompiled = new ConfigLoader(ForceConfigSchema, 'HSFORCE_');
  const env = { HINDSIGHT_LOG__LEVEL: 'loud', HSFORCE_CAPS__MAX_CHUNKS: '0' };

  it("give the daemon's config, defaults and every error message as the schema compiled at run time does", () => {
    const texts = [
      'device: {id: shop-7}\n',
      'version: 0\ndevice: {id: shop-7}\nlog: {level: warn}\n',
      'device:\n  colour: red\npaths:\n  state_dir: 42\n',
      'device: {id: "../x"}\nlog: {level: loud}\ncameras: [{id: 1}]\nweb: {port: -1}\nuplink: {url: "http://x"}\n',
      'device: {id: a}\nbuffer: {hours: "many"}\nrecorder: {segment_s: 0}\nincidents: {}\nvision: {x: 1}\n',
      'version: 7\n',
      '[1, 2]\n',
    ];
    for (const text of texts) {
      for (const options of [{ baseDir: dir }, { baseDir: dir, env }]) {
        expect(outcome((t) => parseConfig(t, options), text), text).toEqual(outcome((t) => daemonCompiled.parse(t, options), text));
      }
    }
  });

  it("give the force's config, defaults and every error message as the schema compiled at run time does", () => {
    const texts = [
      '{}\n',
      'force: {dir: ./f}\nmqtt: {url: "mqtts://broker:8883", password: pw}\n',
      'mqtt: {url: "mqtt://broker:1883", username: admin, publish_timeout_ms: 1}\nforce: {share_group: "a b", prefix: 5}\n',
      'caps: {max_envelope_bytes: 1.5, missing_after_s: 0}\nworkbench: {candidate_threshold: 2, triage_max_days: 40}\nconsole: {port: 70000, enabled: "yes"}\nextra: 1\n',
      'log: {level: loud}\nmqtt: {password: a, password_file: b}\n',
    ];
    for (const text of texts) {
      for (const options of [{ baseDir: dir }, { baseDir: dir, env }]) {
        expect(outcome((t) => forceConfigLoader.parse(t, options), text), text).toEqual(outcome((t) => forceCompiled.parse(t, options), text));
      }
    }
  });
});
