import { mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../../daemon/src/audit/log.js';
import { describeValidation } from '../../../daemon/src/util/validation-words.js';
import { openDatabase } from '../../../daemon/src/db/db.js';
import { systemClock } from '../../../daemon/src/util/clock.js';
import { runCommand } from '../../../daemon/src/util/child.js';
import { runCli, writeConfig } from '../../helpers/cli.js';
import { CLI, tempDir } from '../../helpers/paths.js';

const noStack = (text: string): void => expect(text).not.toMatch(/\n\s+at .+\(.*:\d+:\d+\)/);

/** Messages a person can act on: an error line naming the problem and what to do, the right exit code. */
describe('command-line messages', () => {
  it('audit export to a missing folder, and into a closed pipe', async () => {
    const dir = tempDir();
    const config = writeConfig(dir);
    const db = openDatabase(path.join(dir, 'state', 'hindsight.db'));
    const audit = new AuditLog(db, systemClock);
    for (let i = 0; i < 3000; i++) audit.append({ actor: { type: 'system', id: 'test' }, action: 'test.row', objectIds: [String(i)], detail: { padding: 'x'.repeat(40) } });
    db.close();

    const missing = await runCli(['audit', 'export', '--config', config, '-o', path.join(dir, 'no', 'such', 'f.jsonl')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: cannot write .*f\.jsonl: its folder does not exist\n {2}what to do: create the folder first/);
    noStack(missing.stderr);
    // a link planted at the export's name is refused; what it points to is untouched
    const target = path.join(dir, 'precious.txt');
    writeFileSync(target, 'keep me\n');
    symlinkSync(target, path.join(dir, 'export.jsonl'));
    const linked = await runCli(['audit', 'export', '--config', config, '-o', path.join(dir, 'export.jsonl')]);
    expect([linked.code, linked.stderr]).toEqual([1, expect.stringMatching(/cannot write .*export\.jsonl: it is a symbolic link/)]);
    expect(readFileSync(target, 'utf8')).toBe('keep me\n');
    const written = await runCli(['audit', 'export', '--config', config, '-o', path.join(dir, 'real.jsonl')]);
    expect(written.code, written.stderr).toBe(0);
    expect(statSync(path.join(dir, 'real.jsonl')).mode & 0o777).toBe(0o600);

    // `| head -1`: the reader goes away after one line (well inside the ~300 kB export)
    const piped = await runCommand('bash', ['-c', `"${process.execPath}" "${CLI}" audit export --config "${config}" | head -1 >/dev/null; echo "exit=\${PIPESTATUS[0]}"`], { timeoutMs: 60_000 });
    expect(piped.stdout.toString()).toMatch(/exit=0/);
    expect(piped.stderr).toBe('');
  });

  it('analyse --out naming a file is refused before any work', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'result.txt');
    writeFileSync(file, 'keep me');
    const r = await runCli(['analyse', path.join(dir, 'clip.mp4'), '--out', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --out .*result\.txt is a file, not a folder\n {2}what to do: give a folder/);
    noStack(r.stderr);
  });

  it('one time grammar: a time without a zone says to add one; analyse --start takes it too', async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'out'));
    const r = await runCli(['analyse', path.join(dir, 'clip.mp4'), '--out', path.join(dir, 'out'), '--start', '2026-11-29 14:05']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--start: the time "2026-11-29 14:05" has no time zone\n {2}what to do: add Z for UTC .* 2026-11-29T14:05Z or 2026-11-29T14:05\+01:00/);
    const lock = await runCli(['buffer', 'lock', '--config', writeConfig(dir), '--camera', 'c1', '--from', '20 minutes ago', '--to', '2026-11-29T14:05', '--holder', 'h', '--reason', 'police asked for it']);
    expect(lock.code).toBe(2);
    expect(lock.stderr).toMatch(/--to: the time "2026-11-29T14:05" has no time zone/);
  });

  it('--before out of range names the bound; --version works; numbers in help are numbers', async () => {
    const before = await runCli(['incident', 'log', '--before', '100000', '--camera', 'c1', '--reason', 'theft', '--justification', 'took a bottle of gin', '--config', writeConfig(tempDir())]);
    expect(before.code).toBe(2);
    expect(before.stderr).toMatch(/--before 100000 s is too large: the most is 600 s/);
    const word = await runCli(['incident', 'log', '--before', 'ten', '--camera', 'c1', '--reason', 'theft', '--justification', 'took a bottle of gin', '--config', writeConfig(tempDir())]);
    expect(word.stderr).toMatch(/--before must be a whole number of s, not "ten"/);

    const version = await runCli(['--version']);
    expect([version.code, version.stdout]).toEqual([0, expect.stringMatching(/^hindsight \d+\.\d+\.\d+ \(node /)]);
    for (const [cmd, want] of [[['camera', 'test'], '(default: 5)'], [['audit', 'export'], '(default: 1)'], [['incident', 'list'], '(default: 50)']] as const) {
      const help = await runCli([...cmd, '--help']);
      expect(help.stdout, cmd.join(' ')).toContain(want);
    }
  });

  it('doctor without a config file says it used the defaults, and checks developer tools only with --dev', async () => {
    const env = { HINDSIGHT_CONFIG: undefined };
    const plain = await runCli(['doctor'], { env });
    expect(plain.stdout).toMatch(/^no config file \(.* does not exist\): checked with the built-in defaults$/m);
    expect(plain.stdout).not.toMatch(/^(mosquitto|rtsp test camera)\s/m);
    const dev = await runCli(['doctor', '--dev'], { env });
    expect(dev.stdout).toMatch(/^mosquitto\s+(ok|warn)\s/m);
    expect(dev.stdout).toMatch(/^rtsp test camera\s+(ok|warn)\s/m);
    const withFile = await runCli(['doctor', '--config', writeConfig(tempDir())]);
    expect(withFile.stdout).toMatch(/^config: .*config\.yaml$/m);
  });

  it('control API validation is said in words: allowed values, the real cap, field names', () => {
    expect(describeValidation([{ instancePath: '/reason', keyword: 'enum', params: { allowedValues: ['theft', 'violence', 'other'] } }])).toBe('reason must be one of: theft, violence, other');
    expect(describeValidation([{ instancePath: '/before_s', keyword: 'maximum', params: { limit: 600 } }])).toBe('before_s must be at most 600');
    expect(describeValidation([{ instancePath: '/id', keyword: 'maxLength', params: { limit: 64 } }])).toBe('id is longer than 64 characters');
    expect(describeValidation([{ instancePath: '', keyword: 'additionalProperties', params: { additionalProperty: 'colour' } }])).toBe('colour is not a known field');
  });
});
