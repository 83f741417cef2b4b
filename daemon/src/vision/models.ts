import ort from 'onnxruntime-node';
import { loadVerifiedModel } from '../models/verify.js';

export type ModelRole = 'detector' | 'landmarks' | 'embedder';

/** Which model produced a result: recorded in every analysis result for the evidence manifest. */
export interface ModelId {
  role: ModelRole;
  file: string;
  sha256: string;
}

/**
 * The name packages give the embedding model (`embeddings.model`) and the force's search matches on:
 * file plus the start of its SHA-256, so embeddings of different model builds are never compared.
 */
export function embeddingModelName(ids: readonly ModelId[]): string | undefined {
  const e = ids.find((m) => m.role === 'embedder');
  return e && `${e.file}#${e.sha256.slice(0, 16)}`;
}

export interface SessionOptions {
  /** Intra-op threads per session. One is as fast as two for these small models and has a better tail. */
  intraOpThreads: number;
  /** Skip loading the embedder (crops-only mode). */
  withEmbedder: boolean;
}

type Optimisation = 'extended' | 'all';

/**
 * Graph optimisation per model, measured with one thread (ms per call, disabled / extended / all): the
 * detector 8.4 / 9.9 / 3.0 and the landmarks 1.5 / 1.5 / 0.5 gain 3x from the NCHWc layout transforms of
 * 'all' on every CPU measured. The embedder depends on the CPU: 'all' was 3x slower on one (24 / 24 / 69)
 * and 1.4x faster on another (11.8 / 8.3), so both are tried when it is loaded and the faster is kept
 * (their outputs agree to 1e-6).
 */
const OPTIMISATION: Record<ModelRole, Optimisation[]> = { detector: ['all'], landmarks: ['all'], embedder: ['extended', 'all'] };

/** Timed runs per candidate session when choosing (after one warm-up run). */
const TRIAL_RUNS = 2;

/** One onnxruntime session per model, created once from hash-verified bytes and reused for every call. */
export class FaceModels {
  private constructor(
    readonly detector: ort.InferenceSession,
    readonly landmarks: ort.InferenceSession,
    readonly embedder: ort.InferenceSession | undefined,
    readonly ids: ModelId[],
  ) {}

  static async load(modelsDir: string, options: SessionOptions): Promise<FaceModels> {
    const ids: ModelId[] = [];
    const open = async (role: ModelRole): Promise<ort.InferenceSession> => {
      const { entry, bytes } = loadVerifiedModel(modelsDir, role);
      ids.push({ role, file: entry.file, sha256: entry.sha256 });
      const create = (level: Optimisation): Promise<ort.InferenceSession> =>
        ort.InferenceSession.create(bytes, {
          intraOpNumThreads: options.intraOpThreads,
          interOpNumThreads: 1,
          executionMode: 'sequential',
          graphOptimizationLevel: level,
          // the arena reuses each run's buffers: without it every detector run maps fresh pages, and the
          // page faults cost a worker ~0.5 CPU s per 30 s of 1080p (measured: 283k faults against 148k for
          // the two workers of a 60 s clip; peak RSS the same). A worker lives for one incident, so its
          // high-water mark goes when it exits.
          enableCpuMemArena: true,
        });
      const levels = OPTIMISATION[role];
      if (levels.length === 1) return create(levels[0]!);
      let best: { session: ort.InferenceSession; ms: number } | undefined;
      for (const level of levels) {
        const session = await create(level);
        const ms = await trialMs(session);
        if (!best || ms < best.ms) {
          await best?.session.release();
          best = { session, ms };
        } else await session.release();
      }
      return best!.session;
    };
    const detector = await open('detector');
    const landmarks = await open('landmarks');
    const embedder = options.withEmbedder ? await open('embedder') : undefined;
    return new FaceModels(detector, landmarks, embedder, ids);
  }

  async release(): Promise<void> {
    await Promise.all([this.detector.release(), this.landmarks.release(), this.embedder?.release()]);
  }
}

/** Fastest of a few runs on a blank input of the session's shape (after a warm-up run). */
async function trialMs(session: ort.InferenceSession): Promise<number> {
  const meta = session.inputMetadata[0];
  const shape = meta && 'shape' in meta ? meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1)) : [1, 3, 112, 112];
  const input = tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
  await runSingle(session, input);
  let best = Infinity;
  for (let i = 0; i < TRIAL_RUNS; i++) {
    const t0 = performance.now();
    await runSingle(session, input);
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

export function tensor(data: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

/** The one output of a single-output model, as floats. */
export async function runSingle(session: ort.InferenceSession, input: ort.Tensor): Promise<Float32Array> {
  const out = await session.run({ [session.inputNames[0]!]: input });
  return out[session.outputNames[0]!]!.data as Float32Array;
}
