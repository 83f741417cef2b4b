import { existsSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { CameraProblem } from '../cameras/ffmpeg-errors.js';
import { spawnChild, type ChildExit, type ChildHandle } from '../util/child.js';
import type { Clock } from '../util/clock.js';
import { sandboxed, type SandboxMode } from '../util/sandbox.js';
import { activityTimeout } from './activity-timeout.js';
import { segmentListName } from './ffmpeg-args.js';
import { SegmentListTail, type SegmentListEntry } from './segment-list.js';

const PRLIMIT = '/usr/bin/prlimit';
const CLK_TCK = 100;

/** Why a run ended: ffmpeg exited by itself, or the recorder ended it. */
export type RunEndCause = 'exited' | 'stopped' | 'no_frames' | 'no_segments' | 'cpu';

export interface RunEnd {
  exit: ChildExit;
  cause: RunEndCause;
  /** The tail of ffmpeg's stderr (may hold the URL with credentials: scrub before showing). */
  stderr: string;
  frames: number;
  /** What the camera relay refused (a redirect): the run's true reason, before anything ffmpeg said. */
  refused?: CameraProblem;
}

export interface RunOptions {
  ffmpeg: string;
  sandbox: SandboxMode;
  args: string[];
  dir: string;
  runId: string;
  clock: Clock;
  /** No growth of the frame counter for this long: stalled. */
  frameTimeoutMs: number;
  /** No first frame for this long after the start: stalled while connecting. */
  startupTimeoutMs: number;
  /** No closed segment for this long once frames flow: the segmenter is stuck. */
  segmentTimeoutMs: number;
  memoryMb: number;
  /** Segments whose list lines appeared, with the wall time they were seen. */
  onSegments: (entries: SegmentListEntry[], observedWallMs: number) => void;
  onFirstFrame: () => void;
  /** The recorder is ending the run because it stalled: called at once, before ffmpeg has exited. */
  onStall: (cause: RunEndCause) => void;
}

/**
 * One ffmpeg process recording one camera, from spawn to exit. It watches the frame counter (progress on
 * stdout) and the segment list; a run that stops producing either is ended. It never restarts itself: the
 * supervisor decides what comes next.
 */
export class RecorderRun {
  readonly child: ChildHandle;
  readonly tail: SegmentListTail;
  readonly done: Promise<RunEnd>;
  frames = 0;
  /** When the frame counter last grew (monotonic ms): fps is measured between progress reports, not timer ticks. */
  framesAt = 0;
  private cause: RunEndCause | undefined;
  private stderr = '';
  private progress = '';
  private watcher: FSWatcher | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private frameWatch: ReturnType<typeof activityTimeout>;
  private segmentWatch: ReturnType<typeof activityTimeout> | undefined;
  private cpuMark: { cpuS: number; at: number } | undefined;

  constructor(private readonly o: RunOptions) {
    this.tail = new SegmentListTail(path.join(o.dir, segmentListName(o.runId)));
    const limited = existsSync(PRLIMIT);
    // ffmpeg parses the camera's bytes in a sandbox that sees only its camera's folder (util/sandbox.ts)
    const [ffmpeg, args] = sandboxed(o.sandbox, o.ffmpeg, o.args, { write: [o.dir] });
    // The address-space cap is set by prlimit, which then execs (same pid, parent-death signal kept); it is
    // inherited by everything started below it.
    const [cmd, argv] = limited ? [PRLIMIT, [`--as=${o.memoryMb * 1024 * 1024}`, '--', ffmpeg, ...args]] : [ffmpeg, args];
    this.child = spawnChild(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.proc.stdout?.on('data', (chunk: Buffer) => this.onProgress(chunk));
    this.child.proc.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-8192);
    });
    this.frameWatch = activityTimeout(o.startupTimeoutMs, () => void this.stop('no_frames'));
    this.watchList();
    this.done = this.child.exited.then((exit) => this.finish(exit));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * End the run: `q` (ffmpeg closes the segment and the list), then SIGTERM, then SIGKILL. A stalled ffmpeg is
   * blocked reading the network and does not read `q`, so it gets SIGTERM at once (it still closes its files).
   */
  async stop(cause: RunEndCause = 'stopped'): Promise<void> {
    const first = this.cause === undefined;
    this.cause ??= cause;
    const stalled = cause !== 'stopped';
    if (stalled && first) this.o.onStall(cause);
    await this.child.stop({ quitInput: stalled ? undefined : 'q', graceMs: 1500 });
  }

  /** ffmpeg's CPU use since the previous call, in % of one core (from /proc; its launcher's processes included). */
  cpuPercent(): number | undefined {
    const pid = this.child.pid;
    if (!pid) return undefined;
    const cpuS = treeCpuSeconds(pid);
    if (cpuS === undefined) return undefined;
    const at = performance.now();
    const prev = this.cpuMark;
    this.cpuMark = { cpuS, at };
    if (!prev || at - prev.at < 1000) return undefined;
    return ((cpuS - prev.cpuS) / ((at - prev.at) / 1000)) * 100;
  }

  private onProgress(chunk: Buffer): void {
    this.progress += chunk.toString('utf8');
    const lines = this.progress.split('\n');
    this.progress = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('frame=')) continue;
      const frames = Number(line.slice(6));
      if (!(frames > this.frames)) continue;
      if (this.frames === 0) this.onFirstFrame();
      this.frames = frames;
      this.framesAt = performance.now();
      this.frameWatch.touch();
    }
  }

  private onFirstFrame(): void {
    this.frameWatch.clear();
    this.frameWatch = activityTimeout(this.o.frameTimeoutMs, () => void this.stop('no_frames'));
    this.segmentWatch = activityTimeout(this.o.segmentTimeoutMs, () => void this.stop('no_segments'));
    this.o.onFirstFrame();
  }

  /**
   * inotify on the list file itself (not the folder, which sees a write per packet) so a closed segment is seen
   * within milliseconds: the wall anchor depends on prompt observations. The list appears when the first
   * segment closes; until then, and as a safety net, it is polled.
   */
  private watchList(): void {
    let ticks = 0;
    const poll = setInterval(() => {
      if (!this.watcher && existsSync(this.tail.file)) {
        try {
          this.watcher = watch(this.tail.file, { persistent: false }, () => this.readList());
        } catch {
          /* retried on the next poll */
        }
      }
      // once inotify delivers, reading every few seconds is only a safety net
      if (!this.watcher || ++ticks % 3 === 0) this.readList();
    }, 2000);
    poll.unref();
    this.timers.push(poll);
  }

  private readList(): void {
    const entries = this.tail.read();
    if (entries.length === 0) return;
    this.segmentWatch?.touch();
    this.o.onSegments(entries, this.o.clock.now());
  }

  private finish(exit: ChildExit): RunEnd {
    for (const t of this.timers) clearInterval(t);
    this.frameWatch.clear();
    this.segmentWatch?.clear();
    this.watcher?.close();
    this.readList();
    return { exit, cause: this.cause ?? 'exited', stderr: this.stderr, frames: this.frames };
  }
}

/** CPU seconds used so far by a process and everything below it (/proc/PID/task/PID/children); undefined if gone. */
function treeCpuSeconds(pid: number, depth = 0): number | undefined {
  let own: number;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    own = (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
  if (depth >= 4) return own;
  let children: string[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    /* no children file (kernel without it) or gone */
  }
  return children.reduce((sum, c) => sum + (treeCpuSeconds(Number(c), depth + 1) ?? 0), own);
}
