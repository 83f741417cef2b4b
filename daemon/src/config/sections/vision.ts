import { Type } from '@sinclair/typebox';
import { integer, number, oneOf, pathString, section } from '../schema-helpers.js';

/**
 * The face pipeline's numbers. Defaults come from measurements on the dev photo set and synthetic CCTV
 * video (see daemon/src/vision/ and the README's "Face pipeline" section); change them only with a reason.
 */
export const VisionSection = section('Face pipeline: decode, detect, gate, track, choose the best crops of each person.', {
  fps: number('Frames analysed per second of video (full resolution).', 5, 0.5, 30),
  embeddings: Type.Boolean({
    description: 'Compute face embeddings. false = crops-only mode (a force policy): no embedder is loaded, faces are tracked by position only and each track is its own subject.',
    default: true,
  }),
  intra_op_threads: integer('Threads per onnxruntime session. 1 is as fast as 2 for these small models on 2 cores and has a better tail.', 1, 1, 8),
  workers: integer('Worker processes analysing clip segments in parallel, each with its own model sessions and ffmpeg decoder. 2 suits a 2-core box.', 2, 1, 8),
  nice: integer("Nice value of the analysis (its worker processes and the ffmpeg decoders they start), above the recorder's 0: while an incident is analysed, recording keeps the CPU it needs. 0 = the daemon's own priority.", 10, 0, 19),
  hw_decode: oneOf(['off', 'vaapi'] as const, {
    description:
      'Video decoding for the analysis. "off": in software (the default and the tested path). "vaapi": on the GPU through VA-API (Intel/AMD), at `vaapi_device`; a clip the GPU cannot decode (no device, no driver, an unsupported codec) is decoded in software, said in the analysis warnings. See daemon/docs/face-pipeline.md for the service changes it needs.',
    default: 'off',
  }),
  vaapi_device: pathString('The VA-API render node used when hw_decode is "vaapi".', '/dev/dri/renderD128'),
  segment_seconds: number('Clips are cut into segments of about this length so the workers share a long clip (not in crops-only mode).', 30, 5, 3600),
  max_image_pixels: integer('Largest still image decoded (width x height); larger files are refused before decoding.', 50_000_000, 1, 1_000_000_000),
  detector: section('Face detector (Ultra-Light RFB-320, 320x240 input).', {
    score_threshold: number('Lowest detector score kept. 0.8 gave no false detections on the non-face photos and lost no true faces; 0.5 gave 4.', 0.8, 0.05, 1),
    nms_iou: number('Boxes overlapping a higher-scoring box by more than this IoU are dropped.', 0.4, 0.05, 0.95),
    top_k: integer('Candidates kept per detector pass before NMS.', 750, 1, 4420),
    tile_scales: Type.Array(Type.Number({ minimum: 1, maximum: 16 }), {
      description: 'Downscale factors of the tile passes added to the whole-frame pass; a tile covers 320*s x 240*s pixels. [2, 4] finds faces from 12 px eye distance in 1080p. A pass whose faces the finer tiles already hold whole is skipped for that frame size (in 1080p the 4: see daemon/docs/face-pipeline.md).',
      default: [2, 4],
      maxItems: 4,
    }),
    tile_overlap: number('Fraction by which neighbouring tiles overlap (a face cut by one tile is whole in the next).', 0.25, 0, 0.75),
    motion_threshold: number('In video, a full scan runs its tiles only where the 1/8-size grey frame changed by more than this since the last full scan, or where a face is tracked (sensor noise there is ~1.3 grey levels). 0 = every tile every full scan.', 10, 0, 255),
    rescan_every: integer('Every N-th full scan runs every tile whatever moved (finds a person who stood still while not tracked).', 10, 1, 1000),
    full_scan_every: integer('In video, run the whole-frame and tile passes every N analysed frames (10 at 5 fps: a new face is found within 2 s); in between each tracked face is only followed by its landmarks, or looked for in a window around it. 1 = every frame.', 10, 1, 100),
  }),
  gate: section('Quality gate: a face failing any limit is kept out of the evidence, with the reason.', {
    min_eye_distance: number('Smallest eye distance in pixels (reason too_small).', 12, 0, 1000),
    max_landmark_jitter: number('Largest landmark drift under box jitter, in eye distances (reason not_a_face). Faces: median 0.023, 99th percentile 0.065; cat 0.25, baboon 0.21.', 0.15, 0, 10),
    min_feature_norm: number('Smallest embedder output norm before normalisation (reason not_a_face; only for embedded faces). Faces: min 2.53, 1st percentile 2.82; cat 1.43, motorcycle 1.73.', 2.0, 0, 100),
    max_shape_error: number('Largest RMS distance of the 5 points from the face template after alignment, in 112 px template pixels (reason not_a_face). Faces: max 8.9.', 10, 0, 200),
    max_yaw: number('Largest |yaw| proxy (nose offset in half eye distances; 1 ~ profile) (reason profile).', 1.0, 0, 10),
    max_pitch: number('Largest |pitch| proxy (nose height between eyes and mouth, minus the frontal 0.49) (reason pitched).', 0.5, 0, 10),
    min_sharpness: number('Smallest variance of the Laplacian of the aligned face (reason blurred). Photos: 1st percentile 29.', 10, 0, 100000),
    min_brightness: number('Darkest mean grey level of the aligned face (reason too_dark).', 35, 0, 255),
    max_brightness: number('Brightest mean grey level of the aligned face (reason overexposed).', 225, 0, 255),
    min_contrast: number('Smallest grey-level standard deviation of the aligned face (reason low_contrast).', 12, 0, 255),
    max_clipped: number('Largest fraction of the face box outside the frame (reason clipped).', 0.25, 0, 1),
  }),
  tracker: section('Linking faces across frames of one camera.', {
    iou_min: number('Smallest IoU between a track\'s predicted box and a face to link them.', 0.2, 0, 1),
    max_jump: number('Farthest a face may move between analysed frames and still be linked without overlap, in face widths (the link is then checked by embedding). At 5 fps a person walking across the view moves 1-2.', 2.5, 0, 20),
    max_missed_frames: integer('Analysed frames a track may go unseen before it ends.', 10, 0, 1000),
    embed_every_frames: integer('Re-embed a tracked face found by the detector at least every N analysed frames to check the identity has not switched (links with a weak overlap and people crossing are checked every time; followed faces are only followed where no other face is near).', 20, 1, 1000),
    link_min_similarity: number('Smallest cosine between a face and its track\'s embedding to link them (below: a new track). Same person across a video ~0.5-0.9; FAR 1e-2 at 0.25.', 0.25, -1, 1),
    min_faces: integer('Accepted faces a track needs to count (shorter tracks are dropped as spurious).', 2, 1, 1000),
    follow: Type.Boolean({
      description: 'Between full scans, follow a tracked face with the landmark model alone (two runs, ~1 ms) instead of a detector window (~4 ms); where the two runs disagree, or tracks are close to each other, the detector window is used.',
      default: true,
    }),
    follow_max_drift: number('Largest mean move of the 5 points between the two landmark runs of a followed face, in eye distances (more: not followed, the detector looks). Faces under box jitter: median 0.023, 99th percentile 0.065.', 0.08, 0, 1),
  }),
  subjects: section('Grouping tracks into subjects (distinct people) across cameras.', {
    merge_similarity: number('Average cosine two groups of tracks need to be merged into one subject. Conservative: FAR 1e-4 is ~0.44 on the dev photos.', 0.5, -1, 1),
  }),
  crops: section('What is kept of each subject.', {
    best_k: integer('Best crops kept per subject (by a combined quality score).', 3, 1, 50),
    margin: number('Margin around the face box in the JPEG crop, as a fraction of the box size on each side.', 0.5, 0, 3),
    jpeg_quality: integer('JPEG quality of the crops and the context frame.', 90, 30, 100),
    context_frame: Type.Boolean({ description: 'Also keep the whole frame of each subject\'s best crop.', default: true }),
  }),
});
