#!/usr/bin/env node
// Writes daemon/docs/configuration.md, the operators' reference of every configuration key, from the box's
// schema (config/hindsight.schema.json) and the force's (built daemon/dist): the last step of `npm run schema`.
// `--check` writes nothing and exits 1 when the committed page does not match the schemas.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SCHEMA_FILE = 'config/hindsight.schema.json';

function fail(message, todo) {
  process.stderr.write(`config-reference: ${message}\n  what to do: ${todo}\n`);
  process.exit(2);
}

async function dist(p) {
  const file = path.join(ROOT, 'daemon/dist', p);
  try {
    return await import(pathToFileURL(file).href);
  } catch (err) {
    if (err?.code === 'ERR_MODULE_NOT_FOUND') fail(`${path.relative(ROOT, file)} is missing`, 'build first: `npx tsc -p tsconfig.json` (or `npm run build`)');
    throw err;
  }
}

let boxSchema;
try {
  boxSchema = JSON.parse(readFileSync(path.join(ROOT, SCHEMA_FILE), 'utf8'));
} catch (err) {
  fail(`cannot read ${SCHEMA_FILE}: ${err.message}`, 'run `npm run schema`, which writes it before the reference');
}
const { ForceConfigSchema } = await dist('force/config.js');
const { configReferenceMarkdown, CONFIG_REFERENCE_FILE } = await dist('devkit/config-reference.js');
const text = configReferenceMarkdown(boxSchema, JSON.parse(JSON.stringify(ForceConfigSchema)));

const target = path.join(ROOT, CONFIG_REFERENCE_FILE);
let old = null;
try {
  old = readFileSync(target, 'utf8');
} catch {
  /* not written yet */
}
if (old === text) {
  process.stdout.write(`${CONFIG_REFERENCE_FILE}: up to date\n`);
} else if (process.argv.includes('--check')) {
  process.stdout.write(`${CONFIG_REFERENCE_FILE}: does not match the configuration schemas (run \`npm run schema\`)\n`);
  process.exit(1);
} else {
  writeFileSync(target, text);
  process.stdout.write(`${CONFIG_REFERENCE_FILE}: written\n`);
}
