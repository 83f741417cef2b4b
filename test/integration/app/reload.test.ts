import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { runCli, startDaemon, writeConfig } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/paths.js';
import type { TestProcess } from '../../helpers/process.js';
import { recorderConfigOverrides } from '../../helpers/recorder.js';

/**
 * SIGHUP (the unit's ExecReload): the daemon reads its config file again. The log level changes at once;
 * other changes are named as waiting for a restart; a file that does not load is refused with its
 * reasons and the daemon runs on as it was.
 */
describe('reloading the configuration (SIGHUP)', () => {
  let dir: string;
  let config: string;
  let daemon: TestProcess;
  const edit = (change: (c: Record<string, Record<string, unknown>>) => void): void => {
    const c = parse(readFileSync(config, 'utf8')) as Record<string, Record<string, unknown>>;
    change(c);
    writeFileSync(config, stringify(c));
  };
  const hup = () => process.kill(daemon.pid, 'SIGHUP');
  const addCamera = (id: string) => runCli(['camera', 'add', '--config', config, '--id', id, '--name', id, '--url', `rtsp://127.0.0.1:9/${id}`]);

  beforeAll(async () => {
    dir = tempDir('hs-reload-');
    config = writeConfig(dir, { ...recorderConfigOverrides(), log: { level: 'info', pretty: false } });
    daemon = startDaemon(config);
    await daemon.waitForLine(/"msg":"hindsight running"/, 60_000);
  }, 90_000);
  afterAll(async () => {
    await daemon?.stop();
  });

  it('the log level at once: at error, a camera starting is not logged; back at info, it is', async () => {
    edit((c) => (c.log!.level = 'error'));
    hup();
    await new Promise((r) => setTimeout(r, 1000));
    const added = await addCamera('door');
    expect(added.code, added.stderr).toBe(0);
    await new Promise((r) => setTimeout(r, 6000));
    expect(daemon.output).not.toMatch(/camera door: starting its recorder/);
    edit((c) => (c.log!.level = 'info'));
    hup();
    await daemon.waitForLine(/configuration reloaded: applied log\.level/, 10_000);
    expect((await addCamera('yard')).code).toBe(0);
    await daemon.waitForLine(/camera yard: starting its recorder/, 15_000);
  }, 60_000);

  it('other changes are named as waiting for a restart; a file that does not load is refused and the daemon runs on', async () => {
    edit((c) => (c.recorder!.segment_seconds = 3));
    hup();
    await daemon.waitForLine(/takes effect at the next restart: recorder\.segment_seconds/, 10_000);
    const good = readFileSync(config, 'utf8');
    writeFileSync(config, good.replace('segment_seconds: 3', 'segment_seconds: many'));
    hup();
    await daemon.waitForLine(/configuration not reloaded, the daemon runs on as it was: .*segment_seconds/, 10_000);
    expect(() => process.kill(daemon.pid, 0)).not.toThrow();
    // the file mended, the next reload takes it (compared with the last file that loaded: nothing new)
    writeFileSync(config, good);
    hup();
    await daemon.waitForLine(/configuration reloaded: nothing changed/, 10_000);
  }, 60_000);
});
