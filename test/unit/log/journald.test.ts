import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { syslogPriority, withSyslogPriority } from '../../../daemon/src/log/journald.js';
import { REPO_ROOT, tempDir } from '../../helpers/paths.js';

describe('log lines reach journald at their priority', () => {
  it('maps pino levels to syslog priorities: fatal crit, error err, warn warning, info info, debug and trace debug', () => {
    expect([60, 50, 40, 30, 20, 10].map(syslogPriority)).toEqual([2, 3, 4, 6, 7, 7]);
    const out: string[] = [];
    const d = withSyslogPriority({ write: (l: string) => void out.push(l) });
    d.write('{"level":40,"msg":"disk low"}\n');
    d.write('not json\n');
    expect(out).toEqual(['<4>{"level":40,"msg":"disk low"}\n', 'not json\n']);
  });

  /** The daemon's logger in its own process, stdout to a file, JOURNAL_STREAM as systemd would set it (or not). */
  const run = (journalStream: (file: string) => string | undefined): string[] => {
    const dir = tempDir('hs-journald-');
    const file = path.join(dir, 'stdout');
    const fd = openSync(file, 'w');
    const stream = journalStream(file);
    const script = `
      const { createLogger } = await import(${JSON.stringify(pathToFileURL(path.join(REPO_ROOT, 'daemon/dist/log/logger.js')).href)});
      const log = createLogger({ level: 'debug', pretty: false });
      log.error('cannot write'); log.warn('disk low'); log.info('running'); log.debug('detail');`;
    const env: NodeJS.ProcessEnv = { ...process.env, JOURNAL_STREAM: stream ?? '' };
    if (stream === undefined) delete env.JOURNAL_STREAM;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', fd, 'pipe'], env });
    closeSync(fd);
    expect(r.status, r.stderr.toString()).toBe(0);
    return readFileSync(file, 'utf8').trim().split('\n');
  };

  it('under systemd (stdout is the stream JOURNAL_STREAM names) each JSON line starts with <priority>', () => {
    const lines = run((file) => {
      const st = statSync(file);
      return `${st.dev}:${st.ino}`;
    });
    expect(lines.map((l) => l.slice(0, 3))).toEqual(['<3>', '<4>', '<6>', '<7>']);
    expect(JSON.parse(lines[1]!.slice(3))).toMatchObject({ level: 40, msg: 'disk low' });
  });

  it('stdout redirected elsewhere (JOURNAL_STREAM names another stream), or no systemd: plain JSON lines', () => {
    for (const lines of [run(() => '1:2'), run(() => undefined)]) {
      expect(lines).toHaveLength(4);
      for (const l of lines) expect(l.startsWith('{')).toBe(true);
    }
  });
});
