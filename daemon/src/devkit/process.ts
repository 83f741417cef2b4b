import { readdirSync, readFileSync } from 'node:fs';
import { spawnChild, type ChildHandle } from '../util/child.js';

/**
 * Helper processes for the demo, tests and benchmarks (brokers, cameras, daemons). Each one dies with
 * the process that started it (parent-death signal); `stopAllManaged()` stops every one still running.
 */
const started = new Set<ManagedProcess>();

export class ManagedProcess {
  readonly child: ChildHandle;
  readonly lines: string[] = [];
  private waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];

  constructor(
    readonly command: string,
    readonly args: string[],
    options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
  ) {
    this.child = spawnChild(command, args, { env: options.env ?? process.env, cwd: options.cwd });
    started.add(this);
    const onData = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        this.lines.push(line);
        for (const w of [...this.waiters]) {
          const m = line.match(w.re);
          if (m) {
            this.waiters = this.waiters.filter((x) => x !== w);
            w.resolve(m);
          }
        }
      }
    };
    this.child.proc.stdout?.on('data', onData);
    this.child.proc.stderr?.on('data', onData);
    void this.child.exited.then(() => started.delete(this));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get output(): string {
    return this.lines.join('\n');
  }

  /** Wait for an output line matching `re` (searching what was already printed first). */
  waitForLine(re: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    for (const line of this.lines) {
      const m = line.match(re);
      if (m) return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`${this.command}: no line matching ${re} within ${timeoutMs} ms; output:\n${this.output.slice(-3000)}`));
      }, timeoutMs);
      const done = (m: RegExpMatchArray): void => {
        clearTimeout(timer);
        resolve(m);
      };
      this.waiters.push({ re, resolve: done });
      void this.child.exited.then((e) => {
        if (this.waiters.some((w) => w.resolve === done)) {
          clearTimeout(timer);
          reject(new Error(`${this.command} exited (${e.code ?? e.signal}) before printing ${re}; output:\n${this.output.slice(-3000)}`));
        }
      });
    });
  }

  kill9(): Promise<unknown> {
    this.child.signal('SIGKILL');
    return this.child.exited;
  }

  pause(): void {
    this.child.signal('SIGSTOP');
  }

  resume(): void {
    this.child.signal('SIGCONT');
  }

  stop(graceMs = 3000): Promise<unknown> {
    this.child.signal('SIGCONT');
    return this.child.stop({ graceMs });
  }
}

export async function stopAllManaged(): Promise<void> {
  await Promise.all([...started].map((p) => p.stop(1000)));
}

/** Pids of every live descendant of `pid` (from /proc), for "nothing left behind" checks. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      /* exited meanwhile */
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
