// After tsc: bundle the fleet view's own program (daemon/dist/force/fleet-view-main.js and everything it
// imports, yaml and commander included) into one file beside it, fleet-view-main.bundle.js. `fleet list`
// is what an admin, or a script polling a thousand boxes, runs most: one file starts faster than the ~120
// modules it would load one by one. Packages with native code (better-sqlite3) or loaded by path at run
// time (ajv's runtime, required by the generated config validators) stay outside the bundle.
// Without the bundler (an install without dev dependencies), nothing is written: the compiled modules run.
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entry = path.join(ROOT, 'daemon/dist/force/fleet-view-main.js');
const out = path.join(ROOT, 'daemon/dist/force/fleet-view-main.bundle.js');
const EXTERNAL = ['better-sqlite3', 'ajv', 'ajv-formats', 'bindings', 'file-uri-to-path'];

export async function bundleFleetView({ quiet = false } = {}) {
  rmSync(out, { force: true });
  let rolldown;
  try {
    rolldown = await import('rolldown');
  } catch {
    if (!quiet) console.log('bundle: no bundler installed (dev dependencies); the fleet view runs from the compiled modules');
    return false;
  }
  if (!existsSync(entry)) throw new Error(`bundle: ${path.relative(ROOT, entry)} is missing: run tsc first`);
  await rolldown.build({
    input: entry,
    platform: 'node',
    cwd: ROOT,
    external: (id) => id.startsWith('node:') || EXTERNAL.some((p) => id === p || id.startsWith(`${p}/`)),
    output: { file: out, format: 'esm', codeSplitting: false, sourcemap: process.env.BUNDLE_MAP === "1" },
    logLevel: 'warn',
  });
  if (!quiet) console.log(`bundle: ${path.relative(ROOT, out)}`);
  return true;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await bundleFleetView();
