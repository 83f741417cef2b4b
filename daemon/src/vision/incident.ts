import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { silentLogger } from '../log/logger.js';
import { readManifest } from '../models/manifest.js';
import { systemClock, type Clock } from '../util/clock.js';
import { HindsightError } from '../util/errors.js';
import { assertSafeId } from '../util/ids.js';
import type { ClipOutcome, ClipProgress, TrackOut } from './clip.js';
import type { ModelId, ModelRole } from './models.js';
import type { VisionOptions } from './options.js';
import { runClips } from './pool.js';
import type { AnalysisResult, ClipInput, ClipSummary, FaceCrop, HashedFile, Subject } from './result.js';
import { clusterTracks } from './subjects.js';
import { addTimings, emptyTimings, roundTimings } from './timings.js';

export interface AnalysisProgress {
  framesDone: number;
  framesTotal: number;
  clips: ClipProgress[];
}

export interface AnalyseRequest {
  clips: ClipInput[];
  /** Empty or new folder; receives result.json and subjects/<id>/ crop files. */
  outDir: string;
  options: VisionOptions;
  onProgress?: (p: AnalysisProgress) => void;
  signal?: AbortSignal;
  log?: Logger;
  clock?: Clock;
}

/**
 * The face pipeline's entry point for an incident (state `analysing`): analyse each camera's master clip
 * in worker threads, group the tracks into subjects across cameras, keep the best K crops of each subject
 * plus one context frame, and write `<outDir>/result.json` (an `AnalysisResult`) next to the crop files,
 * every file SHA-256 hashed. With `options.embeddings` false (crops-only policy) no embedding is computed.
 *
 * A clip that cannot be analysed (damaged, not a video) is reported in `clips[i].error` and the others
 * still are; if no clip can be analysed it throws a HindsightError. Cancelled through `signal`, it stops
 * the workers and their ffmpeg processes and throws (code 'aborted').
 */
export async function analyseIncident(req: AnalyseRequest): Promise<AnalysisResult> {
  const { clips, outDir, options } = req;
  const log = req.log ?? silentLogger;
  const clock = req.clock ?? systemClock;
  if (clips.length === 0) throw new HindsightError('no clips to analyse', { code: 'no_clips' });
  clips.forEach((c) => assertSafeId(c.cameraId, 'camera id'));
  const started = clock.now();
  const t0 = performance.now();
  const workRoot = path.join(outDir, '.work');
  mkdirSync(workRoot, { recursive: true });
  const progress: ClipProgress[] = clips.map((c) => ({ cameraId: c.cameraId, framesDone: 0, framesTotal: 0 }));
  let lastLogged = 0;
  const report = (index: number, p: ClipProgress): void => {
    progress[index] = p;
    const done = progress.reduce((s, x) => s + x.framesDone, 0);
    const total = progress.reduce((s, x) => s + x.framesTotal, 0);
    req.onProgress?.({ framesDone: done, framesTotal: total, clips: progress.map((x) => ({ ...x })) });
    if (performance.now() - lastLogged > 5000) {
      lastLogged = performance.now();
      log.info({ framesDone: done, framesTotal: total }, 'face analysis progress');
    }
  };
  log.info({ clips: clips.length, mode: options.embeddings ? 'embeddings' : 'crops_only' }, 'face analysis started');
  try {
    const { outcomes, failures } = await runClips(clips, (i) => path.join(workRoot, String(i)), options, report, req.signal);
    if (outcomes.size === 0) {
      const f = failures[0];
      throw new HindsightError(`no clip could be analysed: ${f?.message ?? 'unknown error'}`, { code: f?.code ?? 'analysis_failed', hint: f?.hint });
    }
    const summaries = clips.map((c, i) => outcomes.get(i)?.summary ?? failedSummary(c, failures.find((f) => f.index === i)?.message));
    const subjects = buildSubjects([...outcomes.values()], outDir, options);
    const timings = emptyTimings();
    for (const o of outcomes.values()) addTimings(timings, o.summary.timings);
    const result: AnalysisResult = {
      format: 'hindsight-analysis/1',
      created_utc: new Date(started).toISOString(),
      mode: options.embeddings ? 'embeddings' : 'crops_only',
      fps: options.fps,
      models: modelIds(options),
      clips: summaries,
      subjects,
      timings: roundTimings(timings),
      wall_ms: Math.round(performance.now() - t0),
    };
    writeFileSync(path.join(outDir, 'result.json'), JSON.stringify(result, null, 1) + '\n', { mode: 0o600 });
    log.info({ subjects: subjects.length, wall_ms: result.wall_ms, failed_clips: failures.length }, 'face analysis finished');
    return result;
  } finally {
    // crops that were not chosen are biometric working data: never leave them behind
    rmSync(workRoot, { recursive: true, force: true });
  }
}

function failedSummary(c: ClipInput, error = 'not analysed'): ClipSummary {
  return {
    camera_id: c.cameraId,
    file: c.file,
    clip_start_utc: new Date(c.clipStartUtcMs).toISOString(),
    width: 0,
    height: 0,
    duration_s: 0,
    frames_analysed: 0,
    faces_detected: 0,
    faces_accepted: 0,
    rejected: {},
    tracks: 0,
    warnings: [],
    timings: emptyTimings(),
    wall_ms: 0,
    error,
  };
}

function modelIds(options: VisionOptions): ModelId[] {
  const roles: ModelRole[] = options.embeddings ? ['detector', 'landmarks', 'embedder'] : ['detector', 'landmarks'];
  const manifest = readManifest(options.modelsDir);
  return roles.map((role) => {
    const m = manifest.models.find((x) => x.name === role)!;
    return { role, file: m.file, sha256: m.sha256 };
  });
}

/** Cluster the tracks, pick each subject's best K crops and move their files into subjects/<id>/. */
function buildSubjects(outcomes: ClipOutcome[], outDir: string, options: VisionOptions): Subject[] {
  const tracks = outcomes.flatMap((o) => o.tracks);
  const utc = (t: TrackOut, ms: number): number => t.clip_start_utc_ms + ms;
  const clusters = clusterTracks(tracks, options.mergeSimilarity).sort((a, b) => Math.min(...a.map((t) => utc(t, t.first_ms))) - Math.min(...b.map((t) => utc(t, t.first_ms))));
  return clusters.map((members, n) => {
    const id = `s${String(n + 1).padStart(3, '0')}`;
    const dir = path.join(outDir, 'subjects', id);
    mkdirSync(dir, { recursive: true });
    const ranked = members.flatMap((t) => t.candidates.map((c) => ({ t, c }))).sort((a, b) => b.c.rank - a.c.rank);
    const chosen = ranked.slice(0, options.crops.bestK);
    const move = (f: HashedFile, name: string): HashedFile => {
      const to = path.join(dir, name);
      if (existsSync(f.path)) renameSync(f.path, to);
      return { path: path.relative(outDir, to), sha256: f.sha256, bytes: f.bytes };
    };
    const crops: FaceCrop[] = chosen.map(({ t, c }, k) => ({
      camera_id: t.camera_id,
      clip_file: t.clip_file,
      frame_index: c.frame_index,
      offset_ms: c.offset_ms,
      time_utc: new Date(utc(t, c.offset_ms)).toISOString(),
      box: c.box,
      landmarks5: c.landmarks5,
      quality: c.quality,
      rank: c.rank,
      crop: move(c.crop, `crop-${k + 1}.jpg`),
      aligned: move(c.aligned, `aligned-${k + 1}.png`),
      ...(c.embedding ? { embedding: c.embedding } : {}),
    }));
    const best = chosen[0];
    const context = best?.c.context ? { ...move(best.c.context, 'context.jpg'), camera_id: best.t.camera_id, time_utc: new Date(utc(best.t, best.c.offset_ms)).toISOString() } : undefined;
    const first = Math.min(...members.map((t) => utc(t, t.first_ms)));
    const last = Math.max(...members.map((t) => utc(t, t.last_ms)));
    return {
      id,
      cameras: [...new Set(members.map((t) => t.camera_id))].sort(),
      first_utc: new Date(first).toISOString(),
      last_utc: new Date(last).toISOString(),
      tracks: members.map((t) => ({
        camera_id: t.camera_id,
        track_id: t.track_id,
        first_utc: new Date(utc(t, t.first_ms)).toISOString(),
        last_utc: new Date(utc(t, t.last_ms)).toISOString(),
        faces: t.faces,
        accepted_faces: t.accepted_faces,
        max_eye_distance: t.max_eye_distance,
        median_sharpness: t.median_sharpness,
      })),
      crops,
      ...(context ? { context } : {}),
    };
  });
}
