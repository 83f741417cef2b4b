import type { Config } from '../config/schema.js';
import type { DetectorOptions } from './detector.js';
import type { GateOptions } from './gate.js';
import type { SandboxMode } from '../util/sandbox.js';

export interface TrackerOptions {
  iouMin: number;
  maxJump: number;
  maxMissedFrames: number;
  embedEveryFrames: number;
  linkMinSimilarity: number;
  minFaces: number;
  follow: boolean;
  followMaxDrift: number;
}

export interface CropOptions {
  bestK: number;
  margin: number;
  jpegQuality: number;
  contextFrame: boolean;
}

/** Everything the face pipeline needs to know, from the `vision` config section (plain data: crosses to workers). */
export interface VisionOptions {
  modelsDir: string;
  ffmpeg: string;
  ffprobe: string;
  /** How ffmpeg and ffprobe are started (util/sandbox.ts); worker processes apply it for themselves. */
  sandbox: SandboxMode;
  fps: number;
  /** false = crops-only mode: no embedder, no embeddings anywhere in the result. */
  embeddings: boolean;
  intraOpThreads: number;
  workers: number;
  /** Nice value of the worker processes, every thread (and so of the decoders they start): 0 = unchanged. */
  nice: number;
  /** VA-API render node for decoding, or undefined for software decoding. */
  vaapiDevice: string | undefined;
  segmentSeconds: number;
  maxImagePixels: number;
  detector: DetectorOptions;
  fullScanEvery: number;
  motionThreshold: number;
  rescanEvery: number;
  gate: GateOptions;
  tracker: TrackerOptions;
  mergeSimilarity: number;
  crops: CropOptions;
}

export function visionOptions(config: Config, modelsDir: string): VisionOptions {
  const v = config.vision;
  return {
    modelsDir,
    ffmpeg: config.tools.ffmpeg,
    ffprobe: config.tools.ffprobe,
    sandbox: config.tools.sandbox,
    fps: v.fps,
    embeddings: v.embeddings,
    intraOpThreads: v.intra_op_threads,
    workers: v.workers,
    nice: v.nice,
    vaapiDevice: v.hw_decode === 'vaapi' ? v.vaapi_device : undefined,
    segmentSeconds: v.segment_seconds,
    maxImagePixels: v.max_image_pixels,
    detector: {
      scoreThreshold: v.detector.score_threshold,
      nmsIou: v.detector.nms_iou,
      topK: v.detector.top_k,
      tileScales: v.detector.tile_scales,
      tileOverlap: v.detector.tile_overlap,
    },
    fullScanEvery: v.detector.full_scan_every,
    motionThreshold: v.detector.motion_threshold,
    rescanEvery: v.detector.rescan_every,
    gate: {
      minScore: v.detector.score_threshold,
      minEyeDistance: v.gate.min_eye_distance,
      minSharpness: v.gate.min_sharpness,
      maxYaw: v.gate.max_yaw,
      maxPitch: v.gate.max_pitch,
      maxShapeError: v.gate.max_shape_error,
      maxLandmarkJitter: v.gate.max_landmark_jitter,
      minFeatureNorm: v.gate.min_feature_norm,
      minBrightness: v.gate.min_brightness,
      maxBrightness: v.gate.max_brightness,
      minContrast: v.gate.min_contrast,
      maxClipped: v.gate.max_clipped,
    },
    tracker: {
      iouMin: v.tracker.iou_min,
      maxJump: v.tracker.max_jump,
      maxMissedFrames: v.tracker.max_missed_frames,
      embedEveryFrames: v.tracker.embed_every_frames,
      linkMinSimilarity: v.tracker.link_min_similarity,
      minFaces: v.tracker.min_faces,
      follow: v.tracker.follow,
      followMaxDrift: v.tracker.follow_max_drift,
    },
    mergeSimilarity: v.subjects.merge_similarity,
    crops: {
      bestK: v.crops.best_k,
      margin: v.crops.margin,
      jpegQuality: v.crops.jpeg_quality,
      contextFrame: v.crops.context_frame,
    },
  };
}
