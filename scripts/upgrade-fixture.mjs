// Make the upgrade test's fixture: the state a released version of Hindsight leaves behind, box and force.
//   node scripts/upgrade-fixture.mjs COMMIT NAME
// checks COMMIT out in a temporary worktree (this checkout's node_modules and models), builds it, runs its
// `npm run demo -- --check` (a box records a test camera, logs an incident, delivers it to a force receiver, a
// demo officer triages it, candidates come back), and copies into test/fixtures/upgrade/NAME/ what an
// upgrade must carry on: both databases, both configs, the keys, the enrollment and the key set. Footage,
// master clips, crops and gallery photos are left out (the test checks records, not media; and no face image
// goes into the repository). Absolute paths in the configs become @STATE@, which the test replaces.
// The worktree is removed afterwards. Loopback only, like the demo.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [commit, name] = process.argv.slice(2);
if (!commit || !name || !/^[a-z0-9][a-z0-9.-]*$/.test(name)) {
  console.error('usage: node scripts/upgrade-fixture.mjs COMMIT NAME (NAME: lower case letters, digits, dots and dashes)');
  process.exit(2);
}

/** Text files copied with their absolute paths made @STATE@; databases copied whole (VACUUM INTO); the rest as is. */
const TEXT = ['config.yaml', 'force/force.yaml'];
const DATABASES = ['box/hindsight.db', 'force/force.db'];
const FILES = [
  'box/keys/device.key',
  'box/uplink/enrollment.json',
  'box/uplink/ca.pem',
  'force/keys',
  'force/keyset.json',
  'force/mqtt/force.password',
  'broker/pki/ca.crt',
];

const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
const work = mkdtempSync(path.join(os.tmpdir(), 'hs-upgrade-fixture-'));
const tree = path.join(work, 'release');
const out = path.join(ROOT, 'test', 'fixtures', 'upgrade', name);
try {
  const sha = run('git', ['rev-parse', '--verify', `${commit}^{commit}`], ROOT).trim();
  run('git', ['worktree', 'add', '--detach', tree, sha], ROOT);
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(tree, 'node_modules'));
  for (const { file } of JSON.parse(readFileSync(path.join(ROOT, 'models', 'manifest.json'), 'utf8')).models) {
    if (existsSync(path.join(ROOT, 'models', file))) cpSync(path.join(ROOT, 'models', file), path.join(tree, 'models', file));
  }
  console.log(`upgrade-fixture: building ${sha.slice(0, 12)}`);
  run(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], tree);
  console.log('upgrade-fixture: running its demo --check (about 2 minutes)');
  const check = run(process.execPath, ['scripts/demo.mjs', '--check'], tree).trim().split('\n').pop();
  const result = JSON.parse(check);
  if (result.delivered !== true) throw new Error(`the release's demo did not deliver: ${check}`);
  const state = path.join(tree, '.state', 'demo');

  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  for (const f of TEXT) {
    const to = path.join(out, f === 'config.yaml' ? 'box/config.yaml' : f);
    mkdirSync(path.dirname(to), { recursive: true });
    writeFileSync(to, readFileSync(path.join(state, f), 'utf8').replaceAll(state, '@STATE@'));
  }
  for (const f of DATABASES) {
    const db = new Database(path.join(state, f), { readonly: true });
    db.prepare('VACUUM INTO ?').run(path.join(out, f));
    db.close();
  }
  for (const f of FILES) cpSync(path.join(state, f), path.join(out, f), { recursive: true });
  const schema = (f) => {
    const db = new Database(path.join(out, f), { readonly: true });
    try {
      return db.pragma('user_version', { simple: true });
    } finally {
      db.close();
    }
  };
  writeFileSync(
    path.join(out, 'release.json'),
    JSON.stringify(
      {
        commit: sha,
        made_with: 'node scripts/upgrade-fixture.mjs COMMIT NAME (its demo --check)',
        box_schema: schema('box/hindsight.db'),
        force_schema: schema('force/force.db'),
        demo: { incident: result.incident, subjects: result.subjects, candidates: result.candidates.map((s) => ({ subjectId: s.subjectId, personRefs: s.candidates.map((c) => c.personRef) })) },
      },
      null,
      2,
    ) + '\n',
  );
  console.log(`upgrade-fixture: ${path.relative(ROOT, out)} (box schema ${schema('box/hindsight.db')}, force schema ${schema('force/force.db')})`);
} finally {
  if (existsSync(tree)) run('git', ['worktree', 'remove', '--force', tree], ROOT);
  rmSync(work, { recursive: true, force: true });
}
