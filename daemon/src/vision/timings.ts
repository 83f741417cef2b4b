/** Milliseconds spent per pipeline stage (summed over frames; recorded in every result). */
export interface StageTimings {
  /** Waiting for the decoder (ffmpeg decodes in parallel; this is only the time the pipeline starved). */
  decode_wait_ms: number;
  detect_ms: number;
  /** Landmarks, including the jitter re-runs of the gate. */
  landmarks_ms: number;
  align_quality_ms: number;
  embed_ms: number;
  track_ms: number;
  write_ms: number;
}

export type Stage = keyof StageTimings;

export function emptyTimings(): StageTimings {
  return { decode_wait_ms: 0, detect_ms: 0, landmarks_ms: 0, align_quality_ms: 0, embed_ms: 0, track_ms: 0, write_ms: 0 };
}

/** Run `fn` and add its duration to `stage` (no-op bookkeeping when no timings object is given). */
export async function timed<T>(timings: StageTimings | undefined, stage: Stage, fn: () => Promise<T> | T): Promise<T> {
  if (!timings) return fn();
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    timings[stage] += performance.now() - t0;
  }
}

export function addTimings(into: StageTimings, from: StageTimings): StageTimings {
  for (const k of Object.keys(into) as Stage[]) into[k] += from[k];
  return into;
}

export function roundTimings(t: StageTimings): StageTimings {
  const out = { ...t };
  for (const k of Object.keys(out) as Stage[]) out[k] = Math.round(out[k]);
  return out;
}
