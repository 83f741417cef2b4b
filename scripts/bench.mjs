#!/usr/bin/env node
// Benchmarks: `npm run bench [-- NAME... [--option value...]]`. Each scripts/bench/NAME.mjs exports `run()`
// returning an object of figures; the runner writes bench-results/NAME.json (with machine facts) and a summary.
// Options go to every benchmark named (`run({options})`). A benchmark that exports `explicitOnly` (the
// two-hour soak) runs only when named. Speed and memory are measured here, never asserted in tests.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { splitArgs } from './bench/_args.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const benchDir = path.join(ROOT, 'scripts', 'bench');
const outDir = path.join(ROOT, 'bench-results');
const available = readdirSync(benchDir).filter((f) => f.endsWith('.mjs') && !f.startsWith('_')).map((f) => f.slice(0, -4)).sort();
let args;
try {
  args = splitArgs(process.argv.slice(2));
} catch (err) {
  console.error(err.message);
  process.exit(2);
}
for (const n of args.names) {
  if (!available.includes(n)) {
    console.error(`unknown benchmark ${n}; available: ${available.join(', ')}`);
    process.exit(2);
  }
}
const load = (name) => import(pathToFileURL(path.join(benchDir, `${name}.mjs`)).href);
const names = args.names.length ? args.names : [];
if (!args.names.length) for (const n of available) if (!(await load(n)).explicitOnly) names.push(n);

mkdirSync(outDir, { recursive: true });
const machine = { node: process.version, cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model, mem_gib: Math.round(os.totalmem() / 2 ** 30) };
const summary = {};
let failed = false;
for (const name of names) {
  process.stdout.write(`bench ${name}: running...\n`);
  const started = new Date().toISOString();
  try {
    const mod = await load(name);
    const figures = await mod.run({ root: ROOT, options: args.options, log: (m) => process.stdout.write(`  ${m}\n`) });
    const result = { name, started, finished: new Date().toISOString(), machine, ...figures };
    writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify(result, null, 2) + '\n');
    summary[name] = figures;
    process.stdout.write(`bench ${name}: ${JSON.stringify(figures.summary ?? figures)}\n`);
  } catch (err) {
    failed = true;
    summary[name] = { error: String(err?.stack ?? err) };
    process.stderr.write(`bench ${name} failed: ${err?.stack ?? err}\n`);
  }
}
writeFileSync(path.join(outDir, 'summary.json'), JSON.stringify({ machine, results: summary }, null, 2) + '\n');
process.stdout.write(`results in ${path.relative(process.cwd(), outDir) || '.'}/\n`);
process.exit(failed ? 1 : 0);
