#!/usr/bin/env node
// One idempotent setup for a fresh Debian 12 box or a developer checkout; `npm test`, `npm run demo`
// and `npm run bench` call it first. Steps (each skipped when already done):
//   1. Debian packages (installed with apt-get when running as root, else the exact command is printed)
//   2. npm ci (when node_modules is missing or older than package-lock.json)
//   3. build (TypeScript -> daemon/dist, when a source file is newer than the last build)
//   4. models (npm pack of the pinned package, SHA-256 checked)
// Only Node built-ins are used here: this runs before `npm ci`.
// scripts/install.sh calls it with --runtime (only the packages an installed box or force needs) and
// --no-packages / --packages-only (the operator manages packages, or the tree is already built).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const quiet = args.has('--quiet');
const buildOnly = args.has('--build-only');
const runtime = args.has('--runtime');
const noPackages = args.has('--no-packages');
const packagesOnly = args.has('--packages-only');

/** Debian packages and why. Keep in step with the README's "System packages" table. */
export const DEBIAN_PACKAGES = [
  'ffmpeg', // recorder, extraction, decoding
  'bubblewrap', // the sandbox ffmpeg reads cameras in (tools.sandbox)
  'mosquitto', // demo broker and test brokers
  'openssl', // test and demo certificates
  'python3-gi', // RTSP test camera (GStreamer through Python bindings)
  'gir1.2-gst-rtsp-server-1.0',
  'gstreamer1.0-plugins-base',
  'gstreamer1.0-plugins-good',
  'gstreamer1.0-plugins-bad',
  'gstreamer1.0-plugins-ugly',
  'gstreamer1.0-x', // the test camera's clock overlay (GStreamer's Pango plugin)
  'python-matplotlib-data', // a public-domain face photo (grace_hopper.jpg) for face pipeline tests on a fresh clone
  'chromium', // the web app's browser tests (driven by playwright-core)
  'faketime', // a force clock a day ahead of the box in the command tests (libfaketime)
  'systemd', // systemd-notify: READY and the watchdog (the daemon's own calls, tested against a notify socket)
];

function say(msg) {
  if (!quiet) process.stdout.write(`setup: ${msg}\n`);
}
function act(msg) {
  process.stdout.write(`setup: ${msg}\n`);
}
function fail(msg, fix) {
  process.stderr.write(`setup: ${msg}\n`);
  if (fix) process.stderr.write(`  what to do: ${fix}\n`);
  process.exit(1);
}

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { stdio: 'inherit', cwd: ROOT, ...opts });
  if (r.error) fail(`cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${argv.join(' ')} failed (exit ${r.status})`);
}

/** What an installed box or force needs (scripts/install.sh); keep in step with "System packages" in the README. */
export const RUNTIME_PACKAGES = [
  'ffmpeg', // recorder, extraction, decoding
  'bubblewrap', // the sandbox ffmpeg reads cameras in
  'systemd', // the units, systemd-notify, systemd-sysusers
  'rsync', // the installer copies the program with it
];

function missingDebianPackages() {
  if (!existsSync('/usr/bin/dpkg-query')) return [];
  return (runtime ? RUNTIME_PACKAGES : DEBIAN_PACKAGES).filter((pkg) => {
    const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
    return r.status !== 0 || !r.stdout.includes('install ok installed');
  });
}

function ensureDebianPackages() {
  const missing = missingDebianPackages();
  if (missing.length === 0) return say('system packages present');
  const line = `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) fail(`missing system packages: ${missing.join(' ')}`, `run: sudo apt-get update && sudo ${line}`);
  act(`installing system packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-qq'], { env });
  run('apt-get', line.split(' ').slice(1), { env });
}

function lockDigest() {
  const lock = path.join(ROOT, 'package-lock.json');
  return createHash('sha256').update(readFileSync(lock)).update(process.version).digest('hex');
}

function ensureNodeModules() {
  const stamp = path.join(ROOT, 'node_modules', '.hindsight-lock');
  const want = lockDigest();
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return say('node modules up to date');
  act('installing node modules (npm ci; better-sqlite3 compiles from source, about a minute)');
  run('npm', ['ci', '--no-audit', '--no-fund']);
  writeFileSync(stamp, want);
}

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function ensureBuild() {
  const stamp = path.join(ROOT, 'daemon', 'dist', '.build-stamp');
  const sources = Math.max(newestMtime(path.join(ROOT, 'daemon', 'src')), statSync(path.join(ROOT, 'tsconfig.json')).mtimeMs);
  if (existsSync(stamp) && statSync(stamp).mtimeMs >= sources) return say('build up to date');
  act('building (tsc, then the fleet view bundle)');
  run(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
  run(process.execPath, [path.join(ROOT, 'scripts', 'bundle.mjs')]);
  writeFileSync(stamp, new Date().toISOString());
}

function ensureModels() {
  const cli = path.join(ROOT, 'daemon', 'dist', 'cli', 'main.js');
  const r = spawnSync(process.execPath, [cli, 'models', 'verify', '--dir', path.join(ROOT, 'models')], { encoding: 'utf8' });
  if (r.status === 0) return say('models present, sha256 ok');
  act('fetching models (npm pack faceplugin-face-recognition-js, SHA-256 checked)');
  run(process.execPath, [cli, 'models', 'fetch', '--dir', path.join(ROOT, 'models')]);
}

const major = Number(process.versions.node.split('.')[0]);
if (major < 20) fail(`Node ${process.versions.node} is too old`, 'install Node.js 20 or newer (22 or 24 recommended in production)');

if (!buildOnly && !noPackages) ensureDebianPackages();
if (packagesOnly) process.exit(0);
if (!buildOnly) ensureNodeModules();
ensureBuild();
if (!buildOnly) ensureModels();
say('ready');
