import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { runCommand } from '../../daemon/src/util/child.js';
import { CLI, REPO_ROOT } from './paths.js';
import { TestProcess } from './process.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the built `hindsight` CLI to completion. */
export async function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {}): Promise<CliResult> {
  const r = await runCommand(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...options.env },
    timeoutMs: options.timeoutMs ?? 120_000,
    input: options.input,
  });
  return { code: r.code, stdout: r.stdout.toString('utf8'), stderr: r.stderr };
}

/**
 * Run the CLI on a real pseudo-terminal (util-linux `script`), answering each prompt as it appears: what a
 * person at a terminal sees, echo included, comes back in `screen`.
 */
export function runCliOnTerminal(args: string[], answers: { prompt: string; type: string }[], timeoutMs = 60_000): Promise<{ code: number | null; screen: string }> {
  const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const child = spawn('script', ['-qec', quoted, '/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let screen = '';
  const pending = [...answers];
  child.stdout.on('data', (chunk: Buffer) => {
    screen += chunk.toString('utf8');
    if (pending[0] && screen.includes(pending[0].prompt)) child.stdin.write(pending.shift()!.type);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hindsight ${args.join(' ')} on a terminal did not finish in ${timeoutMs} ms; screen: ${JSON.stringify(screen)}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, screen });
    });
  });
}

/** Write a daemon config for tests (JSON lines logging, state under `dir`) and return its path. */
export function writeConfig(dir: string, overrides: Record<string, unknown> = {}, name = 'config.yaml'): string {
  const base: Record<string, unknown> = {
    version: 1,
    device: { id: 'test-box', store: 'Test Store' },
    paths: { state_dir: path.join(dir, 'state') },
    log: { level: 'debug', pretty: false },
    // the web app is on by default (port 8443 on every network); tests that use it turn it on on a free
    // loopback port (WEB_TEST_CONFIG), the others leave it off so parallel daemons do not share a port
    web: { enabled: false },
  };
  const merged = deepMerge(base, overrides);
  const file = path.join(dir, name);
  writeFileSync(file, stringify(merged));
  return file;
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur)
        ? deepMerge(cur as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/** Start `hindsight run` as a child process; its JSON log lines are in `.lines`. */
export function startDaemon(configFile: string, env: NodeJS.ProcessEnv = {}): TestProcess {
  return new TestProcess(process.execPath, [CLI, 'run', '--config', configFile], { env: { ...process.env, ...env } });
}

/** Parse the JSON log lines a daemon printed (other lines are skipped). */
export function jsonLines(lines: string[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const l of lines) {
    if (!l.startsWith('{')) continue;
    try {
      out.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      /* partial line */
    }
  }
  return out;
}

/**
 * `hindsight ARGS` as the unprivileged user 65534 (nobody): through a bind mount of the checkout at
 * /mnt/hindsight in a bubblewrap mount namespace, since a clone may sit in a folder only its owner may
 * enter (a `mktemp -d` one is 0700). Needs root, as the tests that change users do anyway.
 */
export async function runCliAsNobody(args: string[], timeoutMs = 60_000): Promise<CliResult> {
  const inside = '/mnt/hindsight';
  const cli = path.join(inside, path.relative(REPO_ROOT, CLI));
  const r = await runCommand(
    'bwrap',
    ['--dev-bind', '/', '/', '--tmpfs', '/mnt', '--bind', REPO_ROOT, inside, '--chdir', '/', 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, cli, ...args],
    { timeoutMs },
  );
  return { code: r.code, stdout: r.stdout.toString('utf8'), stderr: r.stderr };
}
