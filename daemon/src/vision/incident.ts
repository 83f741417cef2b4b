import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { silentLogger } from '../log/logger.js';
import { readManifest } from '../models/manifest.js';
import { systemClock, type Clock } from '../util/clock.js';
import { HindsightError } from '../util/errors.js';
import { assertSafeId } from '../util/ids.js';
import type { ClipProgress, SegmentOutcome, TrackOut } from './clip.js';
import { clipDamage } from './damage.js';
import { probeVideo, segmentSeekS, type VideoInfo } from './frame-source.js';
import type { ModelId, ModelRole } from './models.js';
import type { VisionOptions } from './options.js';
import { runSegments, type SegmentFailure } from './pool.js';
import type { Segment } from './segment-decode.js';
import { clipTimeUtc, type AnalysisResult, type ClipInput, type ClipSummary, type FaceCrop, type HashedFile, type Subject } from './result.js';
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
 * in worker processes, group the tracks into subjects across cameras, keep the best K crops of each subject
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
  if (req.signal?.aborted) throw new HindsightError('analysis cancelled', { code: 'aborted' });
  const started = clock.now();
  const t0 = performance.now();
  const workRoot = path.join(outDir, '.work');
  mkdirSync(workRoot, { recursive: true });
  log.info({ clips: clips.length, mode: options.embeddings ? 'embeddings' : 'crops_only' }, 'face analysis started');
  try {
    const probed = await Promise.all(clips.map((c) => probeVideo(options.ffprobe, c.file, options.fps).catch((err: unknown) => err as Error)));
    const segments = planSegments(clips, probed, options);
    const progress = new ProgressReport(clips, probed, segments, req.onProgress, log);
    // each later segment's keyframe is looked up here while the workers start, not by a worker before it
    // can decode (a short ffprobe each: on the critical path of the last segment)
    const located = segments.map((s) => locate(s, options));
    const { outcomes, failures } = await runSegments(located, (i) => path.join(workRoot, String(i)), options, (i, done) => progress.update(i, done), req.signal);
    if (outcomes.size === 0) {
      const e = (probed.find((p): p is Error => p instanceof Error) ?? failures[0]) as { message?: string; code?: string; hint?: string } | undefined;
      throw new HindsightError(`no clip could be analysed: ${e?.message ?? 'unknown error'}`, { code: e?.code ?? 'analysis_failed', hint: e?.hint });
    }
    const summaries = clips.map((c, i) => summariseClip(c, probed[i]!, segments, outcomes, failures, i));
    const subjects = buildSubjects([...outcomes.values()].flatMap((o) => o.tracks), outDir, options);
    const timings = emptyTimings();
    for (const o of outcomes.values()) addTimings(timings, o.timings);
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
    log.info({ subjects: subjects.length, wall_ms: result.wall_ms, failed_clips: summaries.filter((c) => c.error).length }, 'face analysis finished');
    return result;
  } finally {
    // crops that were not chosen are biometric working data: never leave them behind
    rmSync(workRoot, { recursive: true, force: true });
  }
}

/**
 * Cut each readable clip into segments of about `segmentSeconds` so the workers share a long clip. A
 * person crossing a cut becomes two tracks that the subject clustering joins again; without embeddings
 * nothing could join them, so crops-only mode keeps every clip whole.
 */
function planSegments(clips: ClipInput[], probed: (VideoInfo | Error)[], options: VisionOptions): Segment[] {
  const segments: Segment[] = [];
  const step = Math.max(1, Math.round(options.segmentSeconds * options.fps)) / options.fps;
  clips.forEach((clip, clipIndex) => {
    const info = probed[clipIndex];
    if (!info || info instanceof Error) return;
    const n = options.embeddings && info.durationS > 0 ? Math.max(1, Math.round(info.durationS / step)) : 1;
    for (let k = 0; k < n; k++) segments.push({ clip, clipIndex, index: k, info, startS: k * step, durationS: k < n - 1 ? step : undefined });
  });
  return segments;
}

/** The segment with the keyframe its decoder seeks to (see `segmentSeekS`); on any failure the worker looks again. */
async function locate(segment: Segment, options: VisionOptions): Promise<Segment> {
  try {
    return { ...segment, seekS: (await segmentSeekS(options.ffprobe, segment.clip.file, segment.info, segment.startS)) ?? null };
  } catch {
    return segment;
  }
}

function summariseClip(c: ClipInput, info: VideoInfo | Error, segments: Segment[], outcomes: Map<number, SegmentOutcome>, failures: SegmentFailure[], clipIndex: number): ClipSummary {
  const mine = segments.map((s, i) => ({ s, i })).filter(({ s }) => s.clipIndex === clipIndex);
  const done = mine.map(({ i }) => outcomes.get(i)).filter((o): o is SegmentOutcome => o !== undefined);
  const failed = mine.map(({ i }) => failures.find((f) => f.index === i)).filter((f): f is SegmentFailure => f !== undefined);
  const timings = emptyTimings();
  for (const o of done) addTimings(timings, o.timings);
  const rejected: Record<string, number> = {};
  for (const o of done) for (const [k, v] of Object.entries(o.rejected)) rejected[k] = (rejected[k] ?? 0) + v;
  const error = info instanceof Error ? info.message : done.length === 0 ? (failed[0]?.message ?? 'not analysed') : undefined;
  const warnings = [...done.flatMap((o) => o.warnings), ...(done.length ? failed.map((f) => `segment not analysed: ${f.message}`) : [])];
  const damaged = clipDamage(done.flatMap((o) => o.warnings), c.damaged);
  return {
    camera_id: c.cameraId,
    file: c.file,
    clip_start_utc: new Date(c.clipStartUtcMs).toISOString(),
    width: info instanceof Error ? 0 : info.width,
    height: info instanceof Error ? 0 : info.height,
    duration_s: info instanceof Error ? 0 : info.durationS,
    segments: mine.length,
    frames_analysed: done.reduce((n, o) => n + o.frames, 0),
    faces_detected: done.reduce((n, o) => n + o.detected, 0),
    faces_accepted: done.reduce((n, o) => n + o.accepted, 0),
    rejected,
    tracks: done.reduce((n, o) => n + o.tracks.length, 0),
    warnings,
    timings: roundTimings(timings),
    wall_ms: Math.max(0, ...done.map((o) => o.wallMs)),
    ...(damaged ? { damaged } : {}),
    ...(error ? { error } : {}),
  };
}

/** Frames done / total per clip and overall, to the caller and (every 5 s) to the log. */
class ProgressReport {
  private readonly done: number[];
  private lastLogged = 0;

  constructor(
    private readonly clips: ClipInput[],
    private readonly probed: (VideoInfo | Error)[],
    private readonly segments: Segment[],
    private readonly onProgress: ((p: AnalysisProgress) => void) | undefined,
    private readonly log: Logger,
  ) {
    this.done = segments.map(() => 0);
  }

  update(segment: number, framesDone: number): void {
    this.done[segment] = framesDone;
    const clips = this.clips.map((c, i) => {
      const info = this.probed[i];
      const done = this.segments.reduce((n, s, k) => n + (s.clipIndex === i ? this.done[k]! : 0), 0);
      return { cameraId: c.cameraId, framesDone: done, framesTotal: info instanceof Error || !info ? 0 : Math.max(done, info.expectedFrames) };
    });
    const p = { framesDone: clips.reduce((n, c) => n + c.framesDone, 0), framesTotal: clips.reduce((n, c) => n + c.framesTotal, 0), clips };
    this.onProgress?.(p);
    if (performance.now() - this.lastLogged > 5000) {
      this.lastLogged = performance.now();
      this.log.info({ framesDone: p.framesDone, framesTotal: p.framesTotal }, 'face analysis progress');
    }
  }
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
function buildSubjects(tracks: TrackOut[], outDir: string, options: VisionOptions): Subject[] {
  const utc = (t: TrackOut, ms: number): number => clipTimeUtc(t.clip_start_utc_ms, t.clip_pieces, ms);
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
