import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScrapeToken, readScrapeToken } from '../../../daemon/src/https/metrics.js';
import { tempDir } from '../../helpers/paths.js';

const KEY = 'web.metrics_token_file';
const GOOD = 'k3y-0f-the-scraper-k3y-0f-the-scraper-k3y';

/** A token file with `text`, mode `mode`, in a fresh folder. */
function tokenFile(text: string, mode = 0o600): string {
  const file = path.join(tempDir(), 'metrics-token');
  writeFileSync(file, text, { mode });
  chmodSync(file, mode); // the umask may have taken bits off
  return file;
}

describe('the scrape token file', () => {
  it('gives its one line, without the newline; an empty setting means no token', () => {
    expect(readScrapeToken(tokenFile(`${GOOD}\n`), KEY)).toBe(GOOD);
    expect(readScrapeToken('', KEY)).toBeUndefined();
    expect(loadScrapeToken('', KEY)).toEqual({ token: undefined });
  });

  it('refuses a file the group or others can read, with the chmod to run', () => {
    for (const mode of [0o640, 0o604, 0o644]) {
      const file = tokenFile(GOOD, mode);
      expect(() => readScrapeToken(file, KEY)).toThrow(expect.objectContaining({ code: 'key_permissions', message: expect.stringContaining(`can be read by other users (mode ${mode.toString(8)})`), hint: expect.stringContaining(`chmod 600 ${file}`) }));
    }
  });

  it('refuses a missing file, a folder and a symbolic link, naming the config key', () => {
    const dir = tempDir();
    const missing = path.join(dir, 'nope');
    expect(() => readScrapeToken(missing, KEY)).toThrow(expect.objectContaining({ code: 'metrics_token_missing', message: `the scrape token file ${missing} (${KEY}) does not exist` }));
    const folder = path.join(dir, 'folder');
    mkdirSync(folder);
    expect(() => readScrapeToken(folder, KEY)).toThrow(expect.objectContaining({ code: 'not_a_file', message: expect.stringContaining(KEY) }));
    const link = path.join(dir, 'link');
    symlinkSync(tokenFile(GOOD), link);
    expect(() => readScrapeToken(link, KEY)).toThrow(expect.objectContaining({ message: expect.stringContaining(KEY) }));
  });

  it('refuses a token that is empty, short, has spaces or more than one line, with how to make one', () => {
    for (const text of ['', '\n', 'short-token', `${GOOD} ${GOOD}`, `${GOOD}\n${GOOD}\n`, 'x'.repeat(513)]) {
      expect(() => readScrapeToken(tokenFile(text), KEY), JSON.stringify(text)).toThrow(expect.objectContaining({ code: 'metrics_token_invalid', hint: expect.stringContaining('random token') }));
    }
  });

  it('keeps the reason when it cannot be used, for the log and a scraper that sends a token', () => {
    const file = tokenFile(GOOD, 0o644);
    const loaded = loadScrapeToken(file, KEY);
    expect(loaded.token).toBeUndefined();
    expect(loaded.problem).toContain('can be read by other users');
    expect(loaded.problem).toContain(`chmod 600 ${file}`);
  });
});
