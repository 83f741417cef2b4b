import { accessSync, constants, existsSync, statfsSync } from 'node:fs';
import path from 'node:path';
import type { DaemonPaths } from '../config/paths.js';
import type { Config } from '../config/schema.js';
import { sha256 } from '../util/hash.js';
import { checkModels, FETCH_HINT, loadVerifiedModel } from '../models/verify.js';
import { openDatabase } from '../db/db.js';
import { runCommand } from '../util/child.js';
import { sandboxed, sandboxProblem } from '../util/sandbox.js';
import { checkUplink } from '../uplink/doctor.js';

export type CheckState = 'ok' | 'missing' | 'warn';

export interface CheckResult {
  check: string;
  state: CheckState;
  /** Whether the daemon cannot do its job without it (doctor exits non-zero). */
  required: boolean;
  detail: string;
  fix?: string;
}

const GiB = 1024 ** 3;

/** Everything `hindsight doctor` looks at, in the order it prints them. */
export async function runChecks(config: Config, paths: DaemonPaths, options: { dev?: boolean } = {}): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  results.push(checkNode());
  results.push(await checkTool('ffmpeg', config.tools.ffmpeg, true, 'apt-get install ffmpeg'));
  results.push(await checkTool('ffprobe', config.tools.ffprobe, true, 'apt-get install ffmpeg'));
  results.push(await checkSandbox(config));
  results.push(...(await checkModelFiles(paths.modelsDir)));
  results.push(await checkOnnxRuntime(paths.modelsDir));
  results.push(checkStateDir(paths.stateDir));
  results.push(checkDisk(paths.stateDir));
  results.push(checkDatabase(paths.database));
  results.push(checkUplink(paths.stateDir, paths.database, Date.now()));
  // What only a developer's machine needs (the demo and the tests), not a shop's box.
  if (options.dev) {
    results.push(await checkTool('mosquitto', 'mosquitto', false, 'apt-get install mosquitto (only for the demo and tests)', ['-h']));
    results.push(await checkGstRtsp());
  }
  return results;
}

function checkNode(): CheckResult {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 20) return { check: 'node', state: 'missing', required: true, detail: `Node ${process.versions.node} is too old`, fix: 'install Node.js 22 or 24' };
  return {
    check: 'node',
    state: major >= 22 ? 'ok' : 'warn',
    required: true,
    detail: `Node ${process.versions.node}${major < 22 ? ' works; Node 22 or 24 is recommended in production' : ''}`,
  };
}

/** The sandbox ffmpeg reads cameras in works here: ffmpeg starts inside it (namespaces allowed, bwrap present). */
async function checkSandbox(config: Config): Promise<CheckResult> {
  const mode = config.tools.sandbox;
  if (mode === 'off') return { check: 'sandbox', state: 'warn', required: false, detail: 'tools.sandbox is off: ffmpeg reads cameras with the daemon\'s own view of the files (keys, token, config)', fix: 'apt-get install bubblewrap and remove tools.sandbox: off' };
  const problem = sandboxProblem(mode);
  if (problem) return { check: 'sandbox', state: 'missing', required: true, detail: problem, fix: 'apt-get install bubblewrap' };
  try {
    const r = await runCommand(...sandboxed(mode, config.tools.ffmpeg, ['-hide_banner', '-version']), { timeoutMs: 10_000 });
    if (r.code === 0) return { check: 'sandbox', state: 'ok', required: true, detail: 'ffmpeg starts in the bubblewrap sandbox' };
    return { check: 'sandbox', state: 'missing', required: true, detail: `ffmpeg does not start in the sandbox: ${r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`}`, fix: 'allow user namespaces for the daemon (systemd: RestrictNamespaces=user mnt pid; kernel: unprivileged user namespaces on)' };
  } catch (err) {
    return { check: 'sandbox', state: 'missing', required: true, detail: `the sandbox cannot start: ${(err as Error).message}`, fix: 'apt-get install bubblewrap' };
  }
}

async function checkTool(name: string, command: string, required: boolean, fix: string, args = ['-version']): Promise<CheckResult> {
  try {
    const r = await runCommand(command, args, { timeoutMs: 10_000 });
    const first = (r.stdout.toString('utf8') + r.stderr).split('\n').find((l) => l.trim()) ?? '';
    return { check: name, state: 'ok', required, detail: first.trim().slice(0, 80) };
  } catch {
    return { check: name, state: required ? 'missing' : 'warn', required, detail: `${command} not found`, fix };
  }
}

async function checkModelFiles(modelsDir: string): Promise<CheckResult[]> {
  try {
    const statuses = await checkModels(modelsDir);
    return statuses.map((s) => ({
      check: `model ${s.name}`,
      state: s.state === 'ok' ? ('ok' as const) : ('missing' as const),
      required: true,
      detail:
        s.state === 'ok'
          ? `${s.path} sha256 ok`
          : s.state === 'missing'
            ? `${s.path} is missing`
            : `${s.path} does not match its pinned SHA-256 (refused)`,
      fix: s.state === 'ok' ? undefined : s.state === 'missing' ? FETCH_HINT : `delete ${s.path}, then ${FETCH_HINT}`,
    }));
  } catch (err) {
    return [{ check: 'models', state: 'missing', required: true, detail: (err as Error).message, fix: FETCH_HINT }];
  }
}

async function checkOnnxRuntime(modelsDir: string): Promise<CheckResult> {
  try {
    const ort = await import('onnxruntime-node');
    try {
      const { bytes } = loadVerifiedModel(modelsDir, 'detector');
      const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
      const detail = `loads the detector (inputs ${session.inputNames.join(',')}; model ${sha256(bytes).slice(0, 12)}...)`;
      await session.release();
      return { check: 'onnxruntime', state: 'ok', required: true, detail };
    } catch {
      return { check: 'onnxruntime', state: 'ok', required: true, detail: 'runtime loads (no verified detector to try a session)' };
    }
  } catch (err) {
    return { check: 'onnxruntime', state: 'missing', required: true, detail: (err as Error).message.split('\n')[0] ?? '', fix: 'run `npm ci` in the installation folder' };
  }
}

function checkStateDir(dir: string): CheckResult {
  const base = { check: 'state dir', required: true };
  try {
    if (!existsSync(dir)) {
      let parent = path.dirname(dir);
      while (!existsSync(parent)) parent = path.dirname(parent);
      accessSync(parent, constants.W_OK);
      return { ...base, state: 'ok', detail: `${dir} (will be created at first start)` };
    }
    accessSync(dir, constants.W_OK | constants.R_OK);
    return { ...base, state: 'ok', detail: `${dir} writable` };
  } catch {
    return { ...base, state: 'missing', detail: `${dir} is not writable by this user`, fix: `create it and give it to the daemon's user: install -d -o hindsight -m 0750 ${dir}` };
  }
}

function checkDisk(dir: string): CheckResult {
  let probe = dir;
  while (!existsSync(probe)) probe = path.dirname(probe);
  const fs = statfsSync(probe);
  const free = fs.bavail * fs.bsize;
  const detail = `${(free / GiB).toFixed(1)} GiB free at ${probe}`;
  if (free < 1 * GiB) return { check: 'disk', state: 'missing', required: true, detail, fix: 'free space or point paths.state_dir at a larger disk' };
  return { check: 'disk', state: free < 20 * GiB ? 'warn' : 'ok', required: true, detail: free < 20 * GiB ? `${detail} (a day of buffer needs ~40 GiB per 4 Mbit/s camera)` : detail };
}

function checkDatabase(file: string): CheckResult {
  if (!existsSync(file)) return { check: 'database', state: 'ok', required: true, detail: `${file} (will be created at first start)` };
  try {
    const db = openDatabase(file, { readonly: true });
    const version = db.pragma('user_version', { simple: true });
    db.close();
    return { check: 'database', state: 'ok', required: true, detail: `${file} schema v${String(version)}` };
  } catch (err) {
    return { check: 'database', state: 'missing', required: true, detail: (err as Error).message.split('\n')[0] ?? '', fix: 'restore the database from backup (see the README, "Operating")' };
  }
}

async function checkGstRtsp(): Promise<CheckResult> {
  const probe = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer";
  try {
    const r = await runCommand('/usr/bin/python3', ['-c', probe], { timeoutMs: 10_000 });
    if (r.code === 0) return { check: 'rtsp test camera', state: 'ok', required: false, detail: 'GStreamer RTSP server available (demo and tests)' };
  } catch {
    /* fall through */
  }
  return { check: 'rtsp test camera', state: 'warn', required: false, detail: 'GStreamer RTSP server not installed (only the demo and tests need it)', fix: 'npm run setup' };
}
