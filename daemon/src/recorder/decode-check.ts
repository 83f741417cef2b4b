import { existsSync } from 'node:fs';
import { runCommand } from '../util/child.js';

const NICE = '/usr/bin/nice';

/**
 * Whether a segment's first keyframe decodes: ffmpeg decodes that one frame only (`-skip_frame nokey`,
 * `-frames:v 1`) at the lowest priority and stops at the first decode error (`-xerror`). A camera can send
 * well-formed RTP and MPEG-TS around video that no player can show; stream copy never notices, this does.
 * Returns undefined when the keyframe decodes, else ffmpeg's complaint (or that no frame came out).
 */
export async function keyframeProblem(ffmpeg: string, file: string): Promise<string | undefined> {
  const args = ['-hide_banner', '-nostdin', '-v', 'error', '-xerror', '-skip_frame', 'nokey', '-i', file, '-map', '0:v:0', '-frames:v', '1', '-f', 'null', '-'];
  const [cmd, argv] = existsSync(NICE) ? [NICE, ['-n', '19', ffmpeg, ...args]] : [ffmpeg, args];
  const r = await runCommand(cmd, argv, { timeoutMs: 30_000, maxStdoutBytes: 1024 });
  if (r.code === 0 && !/error while decoding|corrupt|invalid/i.test(r.stderr)) return undefined;
  const lines = r.stderr.trim().split('\n').filter(Boolean);
  return lines.at(-1)?.replace(/^\[[^\]]*\]\s*/, '').slice(0, 200) ?? (r.timedOut ? 'the check timed out' : `ffmpeg exited with ${r.code}`);
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
 * Checks a camera's new segments now and then (at most one check at a time, one per `intervalMs`) and turns the
 * results into a verdict: undecodable after `failuresToJudge` failed checks in a row, decodable again after one
 * good check. Cost: one short, nice'd ffmpeg per interval, decoding a single keyframe.
 */
export class DecodeWatch {
  private busy = false;
  private lastAt = Number.NEGATIVE_INFINITY;
  private failures = 0;
  private verdict: boolean | undefined;

  constructor(
    private readonly o: {
      ffmpeg: string;
      intervalMs: number;
      failuresToJudge: number;
      onVerdict: (v: DecodeVerdict) => void;
      check?: (ffmpeg: string, file: string) => Promise<string | undefined>;
    },
  ) {}

  /** A segment closed: check it if the last check is old enough (the check runs in the background). */
  offer(file: string): void {
    const now = performance.now();
    if (this.busy || now - this.lastAt < this.o.intervalMs) return;
    this.busy = true;
    this.lastAt = now;
    void (this.o.check ?? keyframeProblem)(this.o.ffmpeg, file)
      .then((problem) => this.judge(problem))
      .catch((err: unknown) => this.judge(`the check could not run: ${String(err)}`))
      .finally(() => {
        this.busy = false;
      });
  }

  private judge(problem: string | undefined): void {
    if (problem === undefined) {
      this.failures = 0;
      if (this.verdict !== true) {
        this.verdict = true;
        this.o.onVerdict({ decodable: true, reason: '' });
      }
      return;
    }
    this.failures += 1;
    if (this.failures < this.o.failuresToJudge) return;
    this.verdict = false;
    this.o.onVerdict({ decodable: false, reason: UNDECODABLE_REASON, detail: problem });
  }
}
