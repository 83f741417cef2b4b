/**
 * Worker thread for the face pipeline: loads the models once (one session per model, reused for every
 * clip it is given) and analyses clips off the daemon's event loop. Protocol (plain messages):
 *   in:  {type: 'clip', index, clip, workDir} | {type: 'abort'}
 *   out: {type: 'ready'} | {type: 'progress', ...} | {type: 'done', index, outcome} | {type: 'error', index?, message, code, hint}
 */
import { parentPort, workerData } from 'node:worker_threads';
import { analyseClip } from './clip.js';
import { FaceModels } from './models.js';
import type { VisionOptions } from './options.js';
import type { ClipInput } from './result.js';

export type WorkerIn = { type: 'clip'; index: number; clip: ClipInput; workDir: string } | { type: 'abort' };

const port = parentPort!;
const options = (workerData as { options: VisionOptions }).options;
const abort = new AbortController();

function errorMessage(err: unknown, index?: number): Record<string, unknown> {
  const e = err as Error & { code?: string; hint?: string };
  return { type: 'error', index, message: e?.message ?? String(err), code: abort.signal.aborted ? 'aborted' : (e?.code ?? 'error'), hint: e?.hint };
}

let models: FaceModels | undefined;
try {
  models = await FaceModels.load(options.modelsDir, { intraOpThreads: options.intraOpThreads, withEmbedder: options.embeddings });
  port.postMessage({ type: 'ready' });
} catch (err) {
  port.postMessage(errorMessage(err));
}

// clips arrive one at a time (the pool sends the next after 'done'), so a simple chain keeps them in order
let chain = Promise.resolve();
port.on('message', (msg: WorkerIn) => {
  if (msg.type === 'abort') {
    abort.abort(new Error('analysis cancelled'));
    return;
  }
  chain = chain.then(async () => {
    if (!models) return;
    try {
      const outcome = await analyseClip(models, msg.clip, msg.index, options, msg.workDir, (p) => port.postMessage({ type: 'progress', index: msg.index, ...p }), abort.signal);
      port.postMessage({ type: 'done', index: msg.index, outcome });
    } catch (err) {
      port.postMessage(errorMessage(err, msg.index));
    }
  });
});
