import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SegmentOutcome } from './clip.js';
import type { VisionOptions } from './options.js';
import { HindsightError } from '../util/errors.js';
import type { Segment } from './segment-decode.js';
import type { WorkerIn, WorkerOut } from './worker.js';

/** A segment that could not be analysed, with the reason (the others still are). */
export interface SegmentFailure {
  index: number;
  message: string;
  code: string;
  hint?: string;
}

const WORKER_PATH = fileURLToPath(new URL('./worker.js', import.meta.url));
/** How long a worker told to exit may take to release its models before it is killed. */
const EXIT_GRACE_MS = 10_000;
/** The end of a worker's stderr kept for the error when it dies (a native crash says why there). */
const STDERR_TAIL = 2000;

/**
 * Analyse segments in at most `options.workers` worker processes (each loads the models once; see worker.ts
 * for why processes). A segment may still be in preparation (a promise that never rejects): the workers
 * start meanwhile and get it when it is ready. Each segment's result or failure is reported separately;
 * an abort stops every worker and its ffmpeg.
 */
export async function runSegments(
  segments: readonly (Segment | Promise<Segment>)[],
  workDir: (index: number) => string,
  options: VisionOptions,
  onProgress: (index: number, framesDone: number) => void,
  signal?: AbortSignal,
): Promise<{ outcomes: Map<number, SegmentOutcome>; failures: SegmentFailure[] }> {
  const outcomes = new Map<number, SegmentOutcome>();
  const failures: SegmentFailure[] = [];
  const queue = segments.map((segment, index) => ({ segment, index }));
  const workers: ChildProcess[] = [];
  const runOne = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      // no inherited flags (an inspector port, a loader); the structured clone carries the outcomes' typed arrays
      const worker = fork(WORKER_PATH, [], { execArgv: [], env: workerEnv(), serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
      workers.push(worker);
      let stderr = '';
      worker.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-STDERR_TAIL)));
      tell(worker, { type: 'start', options });
      if (signal?.aborted) tell(worker, { type: 'abort' });
      let current: number | undefined;
      let exiting = false;
      const next = (): void => {
        const job = queue.shift();
        if (!job) {
          current = undefined;
          exiting = true;
          void stopWorker(worker).then(resolve);
          return;
        }
        current = job.index;
        // a segment still being prepared (its keyframe looked up) goes as soon as it is ready
        void Promise.resolve(job.segment).then((segment) => tell(worker, { type: 'segment', index: job.index, segment, workDir: workDir(job.index) }));
      };
      worker.on('message', (m: WorkerOut) => {
        if (m.type === 'ready') return;
        if (m.type === 'progress') onProgress(m.index, m.framesDone);
        else if (m.type === 'done') {
          outcomes.set(m.index, m.outcome);
          next();
        } else if (m.code === 'aborted' || m.index === undefined) {
          // models failed to load, or we were cancelled: nothing more this worker can do (stopped below)
          reject(new HindsightError(m.message, { code: m.code, hint: m.hint }));
        } else {
          failures.push({ index: m.index, message: m.message, code: m.code, hint: m.hint });
          next();
        }
      });
      // the first segment goes at once: the worker starts decoding it while its models load
      next();
      worker.on('error', (err) => reject(new HindsightError(`face analysis worker failed: ${err.message}`, { code: 'worker_failed', cause: err })));
      worker.on('exit', (code, sig) => {
        if (exiting) return;
        const last = stderr.trim().split('\n').slice(-3).join(' | ');
        reject(
          new HindsightError(`face analysis worker exited unexpectedly (${sig ?? `exit code ${code}`})${last ? `: ${last}` : ''}`, {
            code: 'worker_failed',
            hint: current === undefined ? undefined : 'the incident is retried; if it fails again, `hindsight doctor` checks the models',
          }),
        );
      });
    });
  const onAbort = (): void => {
    for (const w of workers) tell(w, { type: 'abort' });
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const n = Math.max(1, Math.min(options.workers, segments.length));
    await Promise.all(Array.from({ length: n }, runOne));
  } catch (err) {
    await Promise.all(workers.map((w) => stopWorker(w, { abort: true })));
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  return { outcomes, failures };
}

/**
 * The daemon's environment without NODE_EXTRA_CA_CERTS: a worker makes no TLS connection, and Node would
 * parse that file at every start (40 ms for Debian's CA bundle), before the worker can start its decoder.
 */
function workerEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

/**
 * Ask a worker to exit, after its current segment or (`abort`) at once, stopping its decoders; it releases its
 * models and exits, or is killed when it has not within the grace.
 */
async function stopWorker(worker: ChildProcess, { abort = false } = {}): Promise<void> {
  if (worker.exitCode !== null || worker.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  if (worker.connected) {
    if (abort) tell(worker, { type: 'abort' });
    tell(worker, { type: 'exit' });
  } else worker.kill('SIGKILL');
  const kill = setTimeout(() => worker.kill('SIGKILL'), EXIT_GRACE_MS);
  await exited;
  clearTimeout(kill);
}

/** A message to a worker, unless it has already gone (its channel closed). */
function tell(worker: ChildProcess, m: WorkerIn): void {
  if (worker.connected) worker.send(m);
}
