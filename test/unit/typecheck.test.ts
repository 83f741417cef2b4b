import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');

describe('types', () => {
  // the build checks daemon/src; the tests (DOM code run in the browser, helpers, fakes of the daemon's
  // interfaces) are checked here, so a fake that drifts from its interface fails as a test
  it('the daemon and every test file type-check (test/tsconfig.json)', () => {
    const r = spawnSync(process.execPath, [TSC, '-p', path.join(ROOT, 'test', 'tsconfig.json')], { cwd: ROOT, encoding: 'utf8', timeout: 180_000 });
    const errors = r.stdout.split('\n').filter((l) => l.includes('error TS'));
    expect(errors, 'type errors').toEqual([]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  }, 200_000);
});
