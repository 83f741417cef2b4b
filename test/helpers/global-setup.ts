import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Tests that run the CLI need a current build; this keeps `npx vitest` as correct as `npm test`. */
export default function setup(): void {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'setup.mjs'), '--build-only', '--quiet'], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('build failed: run `npm run build` to see why');
}
