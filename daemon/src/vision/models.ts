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

/**
 * Graph optimisation per model, measured with one thread (ms per call, disabled / extended / all): the
 * detector 8.4 / 9.9 / 3.0 and the landmarks 1.5 / 1.5 / 0.5 gain 3x from the NCHWc layout transforms of
 * 'all', while the embedder loses 3x with them (24 / 24 / 69).
 */
const OPTIMISATION: Record<ModelRole, 'extended' | 'all'> = { detector: 'all', landmarks: 'all', embedder: 'extended' };

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
      return ort.InferenceSession.create(bytes, {
        intraOpNumThreads: options.intraOpThreads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: OPTIMISATION[role],
        // the arena keeps each session's high-water mark for good; these models are small enough to
        // allocate per run (measured: ~30 MB less per worker, no slower)
        enableCpuMemArena: false,
      });
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

export function tensor(data: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

/** The one output of a single-output model, as floats. */
export async function runSingle(session: ort.InferenceSession, input: ort.Tensor): Promise<Float32Array> {
  const out = await session.run({ [session.inputNames[0]!]: input });
  return out[session.outputNames[0]!]!.data as Float32Array;
}
