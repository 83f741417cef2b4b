/**
 * Worker thread for the face pipeline: loads the models once (one session per model, reused for every
 * segment it is given) and analyses clip segments off the daemon's event loop. Protocol (plain messages):
 *   in:  {type: 'segment', index, segment, workDir} | {type: 'abort'}
 *   out: {type: 'ready'} | {type: 'progress', index, framesDone} | {type: 'done', index, outcome}
 *        | {type: 'error', index?, message, code, hint}
 */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { analyseSegment, type Segment } from './clip.js';
import { FaceModels } from './models.js';
import type { VisionOptions } from './options.js';
import { useSandbox } from '../util/sandbox.js';

export type WorkerIn = { type: 'segment'; index: number; segment: Segment; workDir: string } | { type: 'abort' };

const port = parentPort!;
const options = (workerData as { options: VisionOptions }).options;
// a worker thread has its own copy of the process's policies
useSandbox(options.sandbox);
// Recording first: on Linux a nice value belongs to a thread, and pid 0 here means this thread (not the
// daemon's main thread, which runs the recorder); the ffmpeg decoders it starts inherit it. Lowering one's own
// priority needs no privilege.
if (options.nice > 0) setPriority(0, options.nice);
const abort = new AbortController();

function errorMessage(err: unknown, index?: number): Record<string, unknown> {
  const e = err as Error & { code?: string; hint?: string };
  return { type: 'error', index, message: e?.message ?? String(err), code: abort.signal.aborted ? 'aborted' : (e?.code ?? 'error'), hint: e?.hint };
}

// The models load while the first segment's decoder starts (analyseSegment waits for them after starting
// ffmpeg). 'ready' tells the pool they loaded; a failure is reported once, without a segment index.
let loadFailed = false;
const models = FaceModels.load(options.modelsDir, { intraOpThreads: options.intraOpThreads, withEmbedder: options.embeddings }).then(
  (m) => {
    port.postMessage({ type: 'ready' });
    return m;
  },
  (err: unknown) => {
    loadFailed = true;
    port.postMessage(errorMessage(err));
    throw err;
  },
);
models.catch(() => undefined);

// segments arrive one at a time (the pool sends the next after 'done'), so a simple chain keeps them in order
let chain = Promise.resolve();
port.on('message', (msg: WorkerIn) => {
  if (msg.type === 'abort') {
    abort.abort(new Error('analysis cancelled'));
    return;
  }
  chain = chain.then(async () => {
    if (loadFailed) return;
    try {
      abort.signal.throwIfAborted();
      const outcome = await analyseSegment(models, msg.segment, options, msg.workDir, (framesDone) => port.postMessage({ type: 'progress', index: msg.index, framesDone }), abort.signal);
      port.postMessage({ type: 'done', index: msg.index, outcome });
    } catch (err) {
      if (!loadFailed) port.postMessage(errorMessage(err, msg.index));
    }
  });
});
