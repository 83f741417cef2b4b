import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = path.join(REPO_ROOT, 'daemon', 'dist', 'cli', 'main.js');
export const MODELS_DIR = path.join(REPO_ROOT, 'models');

/** A fresh temporary folder, removed after the test file (set KEEP_TEST_DIRS=1 to keep it). */
export function tempDir(prefix = 'hs-test-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  afterAll(() => {
    if (!process.env.KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}
