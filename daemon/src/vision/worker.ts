/**
 * Child process for the face pipeline: loads the models once (one session per model, reused for every
 * segment it is given) and analyses clip segments outside the daemon. A process rather than a thread: the
 * native memory the models and their runs take (hundreds of MiB) goes back to the system when it exits,
 * where a thread's would stay in the daemon's heap for good (measured: the daemon's resident size moved by
 * ±60 MiB from one incident to the next and never came back down), and a crash in native code fails one
 * analysis, not the daemon. Protocol (IPC messages, structured clone):
 *   in:  {type: 'start', options} first, then {type: 'segment', index, segment, workDir} | {type: 'abort'}
 *        | {type: 'exit'}
 *   out: {type: 'ready'} | {type: 'progress', index, framesDone} | {type: 'done', index, outcome}
 *        | {type: 'error', index?, message, code, hint}
 */
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';
import type { SegmentOutcome } from './clip.js';
import type { FaceModels } from './models.js';
import type { VisionOptions } from './options.js';
import { openSegment, type Segment } from './segment-decode.js';
import { useSandbox } from '../util/sandbox.js';

export type WorkerIn =
  | { type: 'start'; options: VisionOptions }
  | { type: 'segment'; index: number; segment: Segment; workDir: string }
  | { type: 'abort' }
  | { type: 'exit' };

export type WorkerOut =
  | { type: 'ready' }
  | { type: 'progress'; index: number; framesDone: number }
  | { type: 'done'; index: number; outcome: SegmentOutcome }
  | { type: 'error'; index?: number; message: string; code: string; hint?: string };

const send = (m: WorkerOut): void => {
  // the daemon went away (its IPC channel closed): nothing to report to, and nothing to do
  if (process.connected) process.send!(m);
};

/**
 * Recording first: on Linux a nice value belongs to a thread, so every thread this process has now gets it
 * (the threads it starts later, the models' and the ffmpeg decoders, inherit it). Lowering one's own
 * priority needs no privilege.
 */
function lowerPriority(nice: number): void {
  if (nice <= 0) return;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      setPriority(Number(tid), nice);
    } catch {
      // a thread that has just ended
    }
  }
}

const abort = new AbortController();
let models: Promise<FaceModels> | undefined;
let options: VisionOptions | undefined;
let loadFailed = false;

function errorMessage(err: unknown, index?: number): WorkerOut {
  const e = err as Error & { code?: string; hint?: string };
  return { type: 'error', index, message: e?.message ?? String(err), code: abort.signal.aborted ? 'aborted' : (e?.code ?? 'error'), hint: e?.hint };
}

function start(o: VisionOptions): void {
  options = o;
  useSandbox(o.sandbox);
  lowerPriority(o.nice);
  // The models load while the first segment's decoder starts (analyseSegment waits for them after starting
  // ffmpeg). 'ready' tells the pool they loaded; a failure is reported once, without a segment index.
  // (onnxruntime is loaded here, not at the worker's start, so the first decoder does not wait for it)
  models = import('./models.js')
    .then(({ FaceModels }) => FaceModels.load(o.modelsDir, { intraOpThreads: o.intraOpThreads, withEmbedder: o.embeddings }))
    .then(
      (m) => {
        send({ type: 'ready' });
        return m;
      },
      (err: unknown) => {
        loadFailed = true;
        send(errorMessage(err));
        throw err;
      },
    );
  models.catch(() => undefined);
}

// segments arrive one at a time (the pool sends the next after 'done'), so a simple chain keeps them in order
let chain = Promise.resolve();
process.on('message', (msg: WorkerIn) => {
  if (msg.type === 'start') return start(msg.options);
  if (msg.type === 'abort') {
    abort.abort(new Error('analysis cancelled'));
    return;
  }
  if (msg.type === 'exit') {
    chain = chain.then(async () => {
      await models?.then((m) => m.release()).catch(() => undefined);
      process.exit(0);
    });
    return;
  }
  chain = chain.then(async () => {
    if (loadFailed || !models || !options) return;
    try {
      abort.signal.throwIfAborted();
      // the decoder first, then the analysis code (onnxruntime, sharp: ~0.2 s to load): ffmpeg works meanwhile
      const decode = await openSegment(msg.segment, options, abort.signal);
      const { analyseSegment } = await import('./clip.js').catch(async (err: unknown) => {
        await decode.frames.return(undefined);
        throw err;
      });
      const outcome = await analyseSegment(models, msg.segment, decode, options, msg.workDir, (framesDone) => send({ type: 'progress', index: msg.index, framesDone }));
      send({ type: 'done', index: msg.index, outcome });
    } catch (err) {
      if (!loadFailed) send(errorMessage(err, msg.index));
    }
  });
});
// the daemon stopped or died: stop at once (the decoders die with this process)
process.on('disconnect', () => process.exit(1));
