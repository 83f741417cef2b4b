import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { HindsightError } from './errors.js';

/**
 * The one child-process helper. Every ffmpeg/ffprobe/npm the daemon starts goes through here so that:
 * - children die with the daemon even on `kill -9` (Linux parent-death signal via util-linux `setpriv`);
 * - `stop()` escalates: optional quit input on stdin (ffmpeg's `q`), then SIGTERM, then SIGKILL;
 * - nothing is left behind at exit (a registry of live children is SIGKILLed on process exit).
 */

const SETPRIV = '/usr/bin/setpriv';
const hasSetpriv = process.platform === 'linux' && existsSync(SETPRIV);
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnChildOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** stdio for stdin/stdout/stderr; defaults to pipes. */
  stdio?: SpawnOptions['stdio'];
  /** Kill the child when this process dies, whatever the cause. Default true. */
  dieWithParent?: boolean;
}

export class ChildHandle {
  readonly proc: ChildProcess;
  readonly exited: Promise<ChildExit>;
  private exitInfo: ChildExit | undefined;

  constructor(command: string, args: readonly string[], options: SpawnChildOptions = {}) {
    installExitHook();
    const wrap = (options.dieWithParent ?? true) && hasSetpriv;
    const file = wrap ? SETPRIV : command;
    const argv = wrap ? ['--pdeathsig', 'KILL', '--', command, ...args] : [...args];
    this.proc = spawn(file, argv, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: options.stdio ?? ['pipe', 'pipe', 'pipe'],
    });
    live.add(this.proc);
    this.exited = new Promise<ChildExit>((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null): void => {
        live.delete(this.proc);
        this.exitInfo ??= { code, signal };
        resolve(this.exitInfo);
      };
      this.proc.once('exit', done);
      // spawn failures (ENOENT) emit 'error' and maybe never 'exit'
      this.proc.once('error', () => done(null, null));
    });
    // A child that dies while we write to it must not crash the daemon with EPIPE.
    this.proc.stdin?.on('error', () => undefined);
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get running(): boolean {
    return this.exitInfo === undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /**
   * Stop the child: write `quitInput` (if given) and wait `graceMs`, then SIGTERM and wait, then SIGKILL.
   * Resolves once the process has exited.
   */
  async stop(options: { quitInput?: string; graceMs?: number } = {}): Promise<ChildExit> {
    const grace = options.graceMs ?? 2000;
    if (!this.running) return this.exited;
    if (options.quitInput !== undefined && this.proc.stdin?.writable) {
      this.proc.stdin.write(options.quitInput);
      if (await this.waitExit(grace)) return this.exited;
    }
    this.signal('SIGTERM');
    if (await this.waitExit(grace)) return this.exited;
    this.signal('SIGKILL');
    return this.exited;
  }

  signal(sig: NodeJS.Signals): void {
    try {
      this.proc.kill(sig);
    } catch {
      /* already gone */
    }
  }

  private async waitExit(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const result = await Promise.race([this.exited.then(() => true as const), timeout]);
    clearTimeout(timer);
    return result;
  }
}

export function spawnChild(command: string, args: readonly string[], options?: SpawnChildOptions): ChildHandle {
  return new ChildHandle(command, args, options);
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the command after this long (SIGTERM, then SIGKILL). */
  timeoutMs?: number;
  input?: string | Buffer;
  /** Keep at most this many bytes of stdout (the rest is dropped, `truncated` says so). */
  maxStdoutBytes?: number;
  signal?: AbortSignal;
}

export interface RunResult extends ChildExit {
  stdout: Buffer;
  stderr: string;
  timedOut: boolean;
  truncated: boolean;
}

/**
 * How long runCommand waits, after the child exited, for the rest of its output: a busy machine may run the
 * 'exit' event before the last chunks of stdout and stderr are read (a truncated ffprobe JSON, a missing
 * setpriv message), and a pipe a grandchild keeps open must not hold the caller for ever.
 */
const PIPE_DRAIN_MS = 5000;

/** Run a command to completion, collecting its output. Never rejects for a non-zero exit. */
export async function runCommand(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const child = spawnChild(command, args, { cwd: options.cwd, env: options.env });
  // 'exit' can come before the last of the child's output is read: 'close' says its pipes are drained
  const drained = new Promise<void>((resolve) => child.proc.once('close', () => resolve()));
  const maxOut = options.maxStdoutBytes ?? 64 * 1024 * 1024;
  const out: Buffer[] = [];
  let outBytes = 0;
  let truncated = false;
  let stderr = '';
  let spawnError: Error | undefined;
  child.proc.once('error', (err) => {
    spawnError = err;
  });
  child.proc.stdout?.on('data', (chunk: Buffer) => {
    if (outBytes + chunk.length > maxOut) {
      truncated = true;
      const room = maxOut - outBytes;
      if (room > 0) out.push(chunk.subarray(0, room));
      outBytes = maxOut;
      return;
    }
    out.push(chunk);
    outBytes += chunk.length;
  });
  child.proc.stderr?.on('data', (chunk: Buffer) => {
    // keep the tail: the useful part of an ffmpeg error is at the end
    stderr = (stderr + chunk.toString('utf8')).slice(-16384);
  });
  if (options.input !== undefined) child.proc.stdin?.end(options.input);
  else child.proc.stdin?.end();

  let timedOut = false;
  const timer = options.timeoutMs
    ? setTimeout(() => {
        timedOut = true;
        void child.stop({ graceMs: 1000 });
      }, options.timeoutMs)
    : undefined;
  const onAbort = (): void => void child.stop({ graceMs: 1000 });
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const exit = await child.exited;
  // bounded: a grandchild that inherited the pipes may hold them open after the child itself has gone
  let drainTimer: NodeJS.Timeout | undefined;
  await Promise.race([drained, new Promise<void>((resolve) => (drainTimer = setTimeout(resolve, PIPE_DRAIN_MS)))]);
  clearTimeout(drainTimer);
  if (timer) clearTimeout(timer);
  options.signal?.removeEventListener('abort', onAbort);
  if (!spawnError && exit.code === 127 && /failed to execute .*No such file/.test(stderr)) {
    // the setpriv wrapper reports a missing program this way
    spawnError = Object.assign(new Error(`${command}: not found`), { code: 'ENOENT' });
  }
  if (spawnError) {
    const code = (spawnError as NodeJS.ErrnoException).code;
    throw new HindsightError(`cannot run ${command}: ${spawnError.message}`, {
      code: code === 'ENOENT' ? 'not_installed' : 'spawn_failed',
      hint: code === 'ENOENT' ? `install ${command} (run: npm run setup)` : undefined,
      cause: spawnError,
    });
  }
  return { ...exit, stdout: Buffer.concat(out), stderr, timedOut, truncated };
}

/** SIGKILL every child still running (last resort at shutdown). Returns their pids. */
export function killAllChildren(): number[] {
  const pids = liveChildPids();
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  return pids;
}

/** Pids of the children this process still has running (for tests and shutdown checks). */
export function liveChildPids(): number[] {
  return [...live].map((c) => c.pid).filter((p): p is number => p !== undefined);
}
