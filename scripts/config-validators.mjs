#!/usr/bin/env node
// Writes the config validators generated from their schemas (ajv standalone code; see
// daemon/src/devkit/validators.ts for the list), from the built daemon/dist: part of `npm run schema`.
// `--check` writes nothing and exits 1 when a file does not match its schema.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(pathToFileURL(path.join(ROOT, 'daemon/dist', p)).href);
const { CONFIG_VALIDATORS } = await dist('devkit/validators.js');
const { validatorModuleSource } = await dist('config/validator-code.js');
const check = process.argv.includes('--check');
let stale = 0;
for (const v of CONFIG_VALIDATORS) {
  const file = path.join(ROOT, v.file);
  const text = validatorModuleSource(v.schema, v);
  let old = null;
  try {
    old = readFileSync(file, 'utf8');
  } catch {
    /* not written yet */
  }
  if (old === text) {
    process.stdout.write(`${v.file}: up to date\n`);
  } else if (check) {
    stale++;
    process.stdout.write(`${v.file}: does not match ${v.from} (run \`npm run schema\`)\n`);
  } else {
    writeFileSync(file, text);
    process.stdout.write(`${v.file}: written\n`);
  }
}
process.exit(stale ? 1 : 0);
