import { Worker } from 'node:worker_threads';
import type { ClipOutcome, ClipProgress } from './clip.js';
import type { VisionOptions } from './options.js';
import type { ClipInput } from './result.js';
import { HindsightError } from '../util/errors.js';

/** A clip that could not be analysed, with the reason (the others still are). */
export interface ClipFailure {
  index: number;
  message: string;
  code: string;
  hint?: string;
}

type WorkerOut =
  | { type: 'ready' }
  | ({ type: 'progress'; index: number } & ClipProgress)
  | { type: 'done'; index: number; outcome: ClipOutcome }
  | { type: 'error'; index?: number; message: string; code: string; hint?: string };

const WORKER_URL = new URL('./worker.js', import.meta.url);

/**
 * Analyse clips in at most `options.workers` worker threads (each loads the models once). Each clip's
 * result or failure is reported separately; an abort stops every worker and its ffmpeg.
 */
export async function runClips(
  clips: readonly ClipInput[],
  workDir: (index: number) => string,
  options: VisionOptions,
  onProgress: (index: number, p: ClipProgress) => void,
  signal?: AbortSignal,
): Promise<{ outcomes: Map<number, ClipOutcome>; failures: ClipFailure[] }> {
  const outcomes = new Map<number, ClipOutcome>();
  const failures: ClipFailure[] = [];
  const queue = clips.map((clip, index) => ({ clip, index }));
  const workers: Worker[] = [];
  const runOne = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const worker = new Worker(WORKER_URL, { workerData: { options } });
      workers.push(worker);
      let current: number | undefined;
      const next = (): void => {
        const job = queue.shift();
        if (!job) {
          current = undefined;
          void worker.terminate().then(() => resolve());
          return;
        }
        current = job.index;
        worker.postMessage({ type: 'clip', index: job.index, clip: job.clip, workDir: workDir(job.index) });
      };
      worker.on('message', (m: WorkerOut) => {
        if (m.type === 'ready') next();
        else if (m.type === 'progress') onProgress(m.index, m);
        else if (m.type === 'done') {
          outcomes.set(m.index, m.outcome);
          next();
        } else if (m.code === 'aborted' || m.index === undefined) {
          // models failed to load, or we were cancelled: nothing more this worker can do
          void worker.terminate();
          reject(new HindsightError(m.message, { code: m.code, hint: m.hint }));
        } else {
          failures.push({ index: m.index, message: m.message, code: m.code, hint: m.hint });
          next();
        }
      });
      worker.on('error', (err) => reject(new HindsightError(`face analysis worker failed: ${err.message}`, { code: 'worker_failed', cause: err })));
      worker.on('exit', () => {
        if (current !== undefined) reject(new HindsightError('face analysis worker exited unexpectedly', { code: 'worker_failed' }));
      });
    });
  const onAbort = (): void => {
    for (const w of workers) w.postMessage({ type: 'abort' });
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const n = Math.max(1, Math.min(options.workers, clips.length));
    await Promise.all(Array.from({ length: n }, runOne));
  } catch (err) {
    await Promise.all(workers.map((w) => w.terminate()));
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  return { outcomes, failures };
}
