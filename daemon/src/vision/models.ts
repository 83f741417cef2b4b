import ort from 'onnxruntime-node';
import { loadVerifiedModel } from '../models/verify.js';

export type ModelRole = 'detector' | 'landmarks' | 'embedder';

/** Which model produced a result: recorded in every analysis result for the evidence manifest. */
export interface ModelId {
  role: ModelRole;
  file: string;
  sha256: string;
}

export interface SessionOptions {
  /** Intra-op threads per session. One is as fast as two for these small models and has a better tail. */
  intraOpThreads: number;
  /** Skip loading the embedder (crops-only mode). */
  withEmbedder: boolean;
}

/**
 * One onnxruntime session per model, created once from hash-verified bytes and reused for every call.
 * Graph optimisation stays at 'extended': 'all' adds layout transforms that make the embedder about 3x
 * slower on this CPU build (measured 24 ms -> 75 ms per face).
 */
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
        graphOptimizationLevel: 'extended',
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
