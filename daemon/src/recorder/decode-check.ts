import { existsSync } from 'node:fs';
import path from 'node:path';
import { runCommand } from '../util/child.js';
import { sandboxed, type SandboxMode } from '../util/sandbox.js';

const NICE = '/usr/bin/nice';

/** Most segments one check process opens (its log, which says what each input decoded, stays short). */
const MAX_FILES_PER_ROUND = 16;

const DECODE_ERROR = /error while decoding|corrupt|invalid/i;

/**
 * Whether each segment's first keyframe decodes, in ONE ffmpeg at the lowest priority: every segment is an input
 * whose decoder sees keyframes only (`-skip_frame nokey`, one thread, a short probe) and an output that stops after
 * one frame (`-frames:v 1`); the first decode error stops the process (`-xerror`). Starting ffmpeg costs far more
 * than decoding a keyframe, so several cameras share one start. When the shared run fails, each segment is checked
 * alone, one after the other, to say which one does not decode. The segments hold the camera's bytes: ffmpeg
 * parses them in the media sandbox (`sandbox`), seeing only their folders, read-only.
 * Returns, per file, undefined when its keyframe decodes, else ffmpeg's complaint (or that no picture came out).
 */
export async function keyframeProblems(ffmpeg: string, files: string[], sandbox: SandboxMode = 'off'): Promise<(string | undefined)[]> {
  if (files.length === 0) return [];
  const inputs = files.flatMap((f) => ['-threads', '1', '-skip_frame', 'nokey', '-probesize', '500000', '-analyzeduration', '0', '-i', f]);
  const outputs = files.flatMap((_, i) => ['-map', `${i}:v:0`, '-frames:v', '1', '-f', 'null', '-']);
  // verbose: the closing statistics say how many frames each input decoded; each line is tagged with its level
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'level+verbose', '-xerror', ...inputs, ...outputs];
  const [program, programArgs] = sandboxed(sandbox, ffmpeg, args, { read: [...new Set(files.map((f) => path.dirname(f)))] });
  const [cmd, argv] = existsSync(NICE) ? [NICE, ['-n', '19', program, ...programArgs]] : [program, programArgs];
  const r = await runCommand(cmd, argv, { timeoutMs: 30_000, maxStdoutBytes: 1024 });
  const lines = r.stderr.split('\n');
  const errors = lines.filter((l) => /\[(error|fatal|panic)\]/.test(l));
  const decoded = new Map<number, number>();
  for (const l of lines) {
    const m = /Input stream #(\d+):\d+ \(video\):.*?(\d+) frames decoded/.exec(l);
    if (m) decoded.set(Number(m[1]), Math.max(decoded.get(Number(m[1])) ?? 0, Number(m[2])));
  }
  const allGood = r.code === 0 && !errors.some((l) => DECODE_ERROR.test(l)) && files.every((_, i) => (decoded.get(i) ?? 0) > 0);
  if (allGood) return files.map(() => undefined);
  if (files.length > 1) {
    const each: (string | undefined)[] = [];
    for (const f of files) each.push((await keyframeProblems(ffmpeg, [f], sandbox))[0]);
    return each;
  }
  const last = errors.at(-1)?.replace(/^(\[[^\]]*\]\s*)+/, '').slice(0, 200);
  return [last ?? (r.timedOut ? 'the check timed out' : r.code === 0 ? 'no picture decoded' : `ffmpeg exited with ${r.code}`)];
}

export const UNDECODABLE_REASON = "the camera's video does not decode: it is recorded but may show nothing; check the camera's encoder settings or replace the camera";

export interface DecodeVerdict {
  decodable: boolean;
  /** Plain words for the camera state and the alarm (when not decodable); stable while the fault lasts. */
  reason: string;
  /** What ffmpeg said about the last failed check (for the log). */
  detail?: string;
}

/**
 * One camera's decode checks: which of its segments is due for a check, and the verdict from the results.
 * Every new segment is due until `passesToTrust` checks in a row passed after a (re)start of recording or after a
 * failed check; from then on one segment closed at least `intervalMs` after the last check (so footage that turns
 * to garbage after a good start is caught within about the interval plus two segments). Undecodable after
 * `failuresToJudge` failed checks in a row (then checked once per interval until it decodes again), decodable
 * again after one good check.
 */
export class DecodeWatch {
  private newest: { file: string; closedAt: number } | undefined;
  private lastAt = Number.NEGATIVE_INFINITY;
  private busy = false;
  private passes = 0;
  private failures = 0;
  private verdict: boolean | undefined;

  constructor(
    private readonly o: {
      intervalMs: number;
      failuresToJudge: number;
      passesToTrust: number;
      onVerdict: (v: DecodeVerdict) => void;
    },
  ) {}

  /** A recording run (re)started: its first segments are checked one by one again. */
  runStarted(): void {
    this.passes = 0;
  }

  /** A segment closed: it becomes the candidate for the next check. */
  segmentClosed(file: string, now = performance.now()): void {
    this.newest = { file, closedAt: now };
  }

  /** The segment to check now, if one is due (it is then handed out once). */
  take(now = performance.now()): string | undefined {
    const c = this.newest;
    if (this.busy || !c) return undefined;
    const closely = this.verdict !== false && (this.passes < this.o.passesToTrust || this.failures > 0);
    if (!closely && c.closedAt < this.lastAt + this.o.intervalMs) return undefined;
    this.newest = undefined;
    this.busy = true;
    this.lastAt = now;
    return c.file;
  }

  /** The segment `take()` handed out could not be checked (it is gone): the next one is taken instead. */
  unchecked(): void {
    this.busy = false;
  }

  /** The result of checking the segment `take()` handed out. */
  result(problem: string | undefined): void {
    this.busy = false;
    if (problem === undefined) {
      this.passes += 1;
      this.failures = 0;
      if (this.verdict !== true) {
        this.verdict = true;
        this.o.onVerdict({ decodable: true, reason: '' });
      }
      return;
    }
    this.passes = 0;
    this.failures += 1;
    if (this.failures < this.o.failuresToJudge || this.verdict === false) return;
    this.verdict = false;
    this.o.onVerdict({ decodable: false, reason: UNDECODABLE_REASON, detail: problem });
  }
}

/**
 * Runs the decode checks of all cameras: every `roundMs` it collects the segments due (at most one per camera)
 * and checks them in one nice'd ffmpeg; one round at a time, so at most one check process runs for the whole box.
 */
export class DecodeChecker {
  private readonly watches = new Set<DecodeWatch>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly o: {
      ffmpeg: string;
      sandbox: SandboxMode;
      roundMs: number;
    },
  ) {}

  /** Start checking a camera's segments; returns the function that stops it. */
  watch(w: DecodeWatch): () => void {
    this.watches.add(w);
    if (!this.timer) {
      this.timer = setInterval(() => void this.round(), this.o.roundMs);
      this.timer.unref();
    }
    return () => {
      this.watches.delete(w);
      if (this.watches.size === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  private async round(): Promise<void> {
    if (this.running) return;
    const due: { w: DecodeWatch; file: string }[] = [];
    for (const w of this.watches) {
      if (due.length >= MAX_FILES_PER_ROUND) break;
      const file = w.take();
      if (file) due.push({ w, file });
    }
    if (due.length === 0) return;
    this.running = true;
    try {
      const problems = await keyframeProblems(
        this.o.ffmpeg,
        due.map((d) => d.file),
        this.o.sandbox,
      ).catch((err: unknown) => due.map(() => `the check could not run: ${String(err)}`));
      // a segment retention deleted meanwhile (a tight quota) was not checked: it says nothing of the video
      due.forEach((d, i) => (existsSync(d.file) ? d.w.result(problems[i]) : d.w.unchecked()));
    } finally {
      this.running = false;
    }
  }
}
