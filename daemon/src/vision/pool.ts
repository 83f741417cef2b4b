import { Worker } from 'node:worker_threads';
import type { Segment, SegmentOutcome } from './clip.js';
import type { VisionOptions } from './options.js';
import { HindsightError } from '../util/errors.js';

/** A segment that could not be analysed, with the reason (the others still are). */
export interface SegmentFailure {
  index: number;
  message: string;
  code: string;
  hint?: string;
}

type WorkerOut =
  | { type: 'ready' }
  | { type: 'progress'; index: number; framesDone: number }
  | { type: 'done'; index: number; outcome: SegmentOutcome }
  | { type: 'error'; index?: number; message: string; code: string; hint?: string };

const WORKER_URL = new URL('./worker.js', import.meta.url);

/**
 * Analyse segments in at most `options.workers` worker threads (each loads the models once). Each
 * segment's result or failure is reported separately; an abort stops every worker and its ffmpeg.
 */
export async function runSegments(
  segments: readonly Segment[],
  workDir: (index: number) => string,
  options: VisionOptions,
  onProgress: (index: number, framesDone: number) => void,
  signal?: AbortSignal,
): Promise<{ outcomes: Map<number, SegmentOutcome>; failures: SegmentFailure[] }> {
  const outcomes = new Map<number, SegmentOutcome>();
  const failures: SegmentFailure[] = [];
  const queue = segments.map((segment, index) => ({ segment, index }));
  const workers: Worker[] = [];
  const runOne = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const worker = new Worker(WORKER_URL, { workerData: { options } });
      workers.push(worker);
      if (signal?.aborted) worker.postMessage({ type: 'abort' });
      let current: number | undefined;
      const next = (): void => {
        const job = queue.shift();
        if (!job) {
          current = undefined;
          void worker.terminate().then(() => resolve());
          return;
        }
        current = job.index;
        worker.postMessage({ type: 'segment', index: job.index, segment: job.segment, workDir: workDir(job.index) });
      };
      worker.on('message', (m: WorkerOut) => {
        if (m.type === 'ready') return;
        if (m.type === 'progress') onProgress(m.index, m.framesDone);
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
      // the first segment goes at once: the worker starts decoding it while its models load
      next();
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
    const n = Math.max(1, Math.min(options.workers, segments.length));
    await Promise.all(Array.from({ length: n }, runOne));
  } catch (err) {
    await Promise.all(workers.map((w) => w.terminate()));
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  return { outcomes, failures };
}
