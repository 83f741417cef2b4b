import type { CheckResult } from '../doctor/check.js';
import { sha256 } from '../util/hash.js';
import { checkModels, FETCH_HINT, loadVerifiedModel } from './verify.js';

/** `hindsight doctor`: every pinned model file is there and matches its SHA-256. */
export async function modelFilesCheck({ paths }: { paths: { modelsDir: string } }): Promise<CheckResult[]> {
  try {
    const statuses = await checkModels(paths.modelsDir);
    return statuses.map((s) => ({
      check: `model ${s.name}`,
      state: s.state === 'ok' ? ('ok' as const) : ('missing' as const),
      required: true,
      detail:
        s.state === 'ok'
          ? `${s.path} sha256 ok`
          : s.state === 'missing'
            ? `${s.path} is missing`
            : `${s.path} does not match its pinned SHA-256 (refused)`,
      fix: s.state === 'ok' ? undefined : s.state === 'missing' ? FETCH_HINT : `delete ${s.path}, then ${FETCH_HINT}`,
    }));
  } catch (err) {
    return [{ check: 'models', state: 'missing', required: true, detail: (err as Error).message, fix: FETCH_HINT }];
  }
}

/** `hindsight doctor`: onnxruntime loads, and opens a session on the verified detector when there is one. */
export async function onnxRuntimeCheck({ paths }: { paths: { modelsDir: string } }): Promise<CheckResult> {
  try {
    const ort = await import('onnxruntime-node');
    try {
      const { bytes } = loadVerifiedModel(paths.modelsDir, 'detector');
      const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
      const detail = `loads the detector (inputs ${session.inputNames.join(',')}; model ${sha256(bytes).slice(0, 12)}...)`;
      await session.release();
      return { check: 'onnxruntime', state: 'ok', required: true, detail };
    } catch {
      return { check: 'onnxruntime', state: 'ok', required: true, detail: 'runtime loads (no verified detector to try a session)' };
    }
  } catch (err) {
    return { check: 'onnxruntime', state: 'missing', required: true, detail: (err as Error).message.split('\n')[0] ?? '', fix: 'run `npm ci` in the installation folder' };
  }
}
