import { cosine } from './embedder.js';
import type { FaceRecord } from './faces.js';
import { boxShape, type BoxShape } from './follow.js';
import { centre, iou, type Box } from './geometry.js';
import { cropImage, type RgbImage } from './image.js';
import type { CropOptions, TrackerOptions } from './options.js';
import { qualityRank } from './quality.js';

/** A face kept as one of the best of its track, with the pixels needed to write its crop files later. */
export interface CropCandidate {
  frameIndex: number;
  timeMs: number;
  face: FaceRecord;
  rank: number;
  /** The face with a margin, at full resolution, and where its top-left corner was in the frame. */
  crop: RgbImage;
  cropOrigin: [number, number];
  /** The whole frame; kept only while this is its track's best face. */
  frame?: RgbImage;
}

/** One face followed across the frames of one camera. */
export class Track {
  lastBox: Box;
  private velocity: [number, number] = [0, 0];
  lastFrame: number;
  lastTimeMs: number;
  faces = 1;
  accepted = 0;
  /** Sum of the embeddings of its accepted faces (their normalised mean is the track's identity). */
  embeddingSum: Float32Array | undefined;
  lastEmbeddedFrame = -Infinity;
  /** Largest eye distance and sharpness among its accepted faces (to show the kept crops are the best). */
  maxEyeDistance = 0;
  readonly sharpness: number[] = [];
  readonly candidates: CropCandidate[] = [];
  /** Its last detector box's shape around the 5 points, and score: what following it needs. */
  lastDetection: { shape: BoxShape; score: number } | undefined;

  constructor(
    readonly id: number,
    readonly firstFrame: number,
    readonly firstTimeMs: number,
    box: Box,
  ) {
    this.lastBox = box;
    this.lastFrame = firstFrame;
    this.lastTimeMs = firstTimeMs;
  }

  /** Where the face should be at `frame`, moving at its last speed. */
  predict(frame: number): Box {
    const dt = frame - this.lastFrame;
    const [vx, vy] = this.velocity;
    const b = this.lastBox;
    return [b[0] + vx * dt, b[1] + vy * dt, b[2] + vx * dt, b[3] + vy * dt];
  }

  identity(): Float32Array | undefined {
    if (!this.embeddingSum) return undefined;
    let n = 0;
    for (const x of this.embeddingSum) n += x * x;
    n = Math.sqrt(n) || 1;
    return this.embeddingSum.map((x) => x / n);
  }

  addEmbedding(e: Float32Array, frame: number): void {
    if (!this.embeddingSum) this.embeddingSum = new Float32Array(e.length);
    for (let i = 0; i < e.length; i++) this.embeddingSum[i]! += e[i]!;
    this.lastEmbeddedFrame = frame;
  }

  /** Remember a detector-found face's box shape (followed faces link through `follows` and keep theirs). */
  noteDetection(face: FaceRecord): void {
    const shape = boxShape(face.box, face.landmarks5);
    if (shape) this.lastDetection = { shape, score: face.score };
  }

  moveTo(box: Box, frame: number, timeMs: number): void {
    const dt = Math.max(1, frame - this.lastFrame);
    const c0 = [(this.lastBox[0] + this.lastBox[2]) / 2, (this.lastBox[1] + this.lastBox[3]) / 2];
    const c1 = [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2];
    // smoothed constant-velocity model: enough to follow walking people at 5 fps
    this.velocity = [0.5 * this.velocity[0] + (0.5 * (c1[0]! - c0[0]!)) / dt, 0.5 * this.velocity[1] + (0.5 * (c1[1]! - c0[1]!)) / dt];
    this.lastBox = box;
    this.lastFrame = frame;
    this.lastTimeMs = timeMs;
    this.faces++;
  }
}

/** Embeds a face on demand (undefined in crops-only mode); may change the face's gate verdict. */
export type Embedder = (face: FaceRecord) => Promise<Float32Array | undefined>;

/**
 * Faces kept per track beyond the K best: the gate's last checks (landmark jitter, feature norm) run only
 * when the track ends, on the kept faces, and a few spares replace the ones that fail.
 */
export const SPARE_CANDIDATES = 2;

/** Below this IoU with the predicted box a link is checked by embedding (a walking face keeps ~0.6+ at 5 fps). */
const SURE_OVERLAP = 0.5;

/** A rival link overlapping less than this cannot compete with a sure one (centres a face width apart). */
const CLEAR_OVERLAP = 0.1;

/**
 * Links the faces of one camera's frames into tracks by overlap with (or a short jump from) each track's
 * predicted box, and by embedding where that is ambiguous (people crossing) or weak (someone else stepping
 * into the spot), and every `embedEveryFrames` to catch an identity switch. A track takes at most one face
 * per frame, so two faces of one frame are never merged. Only faces that pass the gate are embedded or
 * kept as crops; a track of rejected faces ends without crops and is dropped.
 */
export class CameraTracker {
  private live: Track[] = [];
  private nextId = 1;

  constructor(
    private readonly options: TrackerOptions,
    private readonly crops: CropOptions,
    private readonly embed: Embedder,
  ) {}

  liveTracks(): readonly Track[] {
    return this.live;
  }

  /**
   * Add one frame's faces; returns the tracks that ended (unseen for too long). `follows` links faces found
   * by following a track (see follow.ts) to that track directly: following is only tried where no other
   * track is near, so there is nothing to disambiguate, and the identity check waits for the next
   * detector-found face of the track.
   */
  async update(frame: number, timeMs: number, faces: FaceRecord[], image: RgbImage, follows: ReadonlyMap<FaceRecord, Track> = new Map()): Promise<Track[]> {
    const linked = new Set<FaceRecord>();
    const used = new Set<Track>();
    for (const face of faces) {
      const track = follows.get(face);
      if (!track || used.has(track) || !this.live.includes(track)) continue;
      linked.add(face);
      used.add(track);
      track.moveTo(face.box, frame, timeMs);
      this.consider(track, face, frame, timeMs, image);
    }
    const pairs = this.candidatePairs(
      frame,
      faces.filter((f) => !linked.has(f)),
    ).filter((p) => !used.has(p.track));
    await this.embedAmbiguous(pairs);
    for (const p of pairs.sort((a, b) => b.score - a.score)) {
      if (linked.has(p.face) || used.has(p.track) || p.score < 0) continue;
      if (!(await this.sameIdentity(p.track, p.face, p.overlap, frame))) {
        // someone else is where this track's person should be: the track takes no face this frame
        used.add(p.track);
        continue;
      }
      linked.add(p.face);
      used.add(p.track);
      p.track.moveTo(p.face.box, frame, timeMs);
      p.track.noteDetection(p.face);
      this.consider(p.track, p.face, frame, timeMs, image);
    }
    for (const face of faces) {
      if (linked.has(face)) continue;
      const track = new Track(this.nextId++, frame, timeMs, face.box);
      track.noteDetection(face);
      this.live.push(track);
      this.consider(track, face, frame, timeMs, image);
    }
    const ended = this.live.filter((t) => frame - t.lastFrame > this.options.maxMissedFrames);
    this.live = this.live.filter((t) => !ended.includes(t));
    return ended;
  }

  /** Whether a live track keeps this frame (as its best face's context frame). */
  holdsFrame(image: RgbImage): boolean {
    return this.live.some((t) => t.candidates.some((c) => c.frame === image));
  }

  /** End every live track (end of the clip). */
  finishAll(): Track[] {
    const all = this.live;
    this.live = [];
    return all;
  }

  /**
   * Possible links: the face overlaps the track's predicted (or last) box, or lies within `maxJump` face
   * widths of it at a similar size. At 5 fps a person walking across the view moves 1-2 face widths per
   * frame, so overlap alone would cut every such track; those links are checked by embedding.
   */
  private candidatePairs(frame: number, faces: FaceRecord[]): Pair[] {
    const pairs: Pair[] = [];
    for (const track of this.live) {
      const predicted = track.predict(frame);
      const size = predicted[2] - predicted[0];
      const [pcx, pcy] = centre(predicted);
      for (const face of faces) {
        const overlap = Math.max(iou(predicted, face.box), iou(track.lastBox, face.box));
        const [fcx, fcy] = centre(face.box);
        const jump = Math.hypot(fcx - pcx, fcy - pcy) / Math.max(1, size);
        const ratio = (face.box[2] - face.box[0]) / Math.max(1, size);
        const near = jump <= this.options.maxJump && ratio > 2 / 3 && ratio < 3 / 2;
        if (overlap >= this.options.iouMin || near) pairs.push({ track, face, overlap, score: overlap + Math.max(0, 1 - jump / this.options.maxJump) });
      }
    }
    return pairs;
  }

  /** Where a face could belong to two tracks (or a track take two faces), let the embeddings decide. */
  private async embedAmbiguous(pairs: Pair[]): Promise<void> {
    const perFace = new Map<FaceRecord, number>();
    const perTrack = new Map<Track, number>();
    for (const p of pairs) {
      perFace.set(p.face, (perFace.get(p.face) ?? 0) + 1);
      perTrack.set(p.track, (perTrack.get(p.track) ?? 0) + 1);
    }
    // a clear link (strong overlap, and every rival link of its face and of its track barely overlapping)
    // settles its face and its track: overlap decides them, no embedding needed
    const clear = pairs.filter((p) => p.overlap >= SURE_OVERLAP && pairs.every((q) => q === p || (q.face !== p.face && q.track !== p.track) || q.overlap < CLEAR_OVERLAP));
    const settledFaces = new Set(clear.map((p) => p.face));
    const settledTracks = new Set(clear.map((p) => p.track));
    for (const p of pairs) {
      if ((perFace.get(p.face) ?? 0) < 2 && (perTrack.get(p.track) ?? 0) < 2) continue;
      if (settledFaces.has(p.face) || settledTracks.has(p.track)) continue;
      const id = p.track.identity();
      const e = p.face.accepted ? await this.embed(p.face) : undefined;
      if (id && e) p.score += cosine(id, e) - (cosine(id, e) < this.options.linkMinSimilarity ? 10 : 0);
    }
  }

  /** Check a linked face against its track's identity now and then; a different person starts a new track. */
  private async sameIdentity(track: Track, face: FaceRecord, overlap: number, frame: number): Promise<boolean> {
    if (!face.accepted) return true;
    const id = track.identity();
    // a weak overlap is how one person leaving and another arriving at the same spot looks, and so is a
    // track picked up again after frames without its face (one left, another stepped in): check them
    const due = !id || overlap < SURE_OVERLAP || frame - track.lastFrame > 1 || frame - track.lastEmbeddedFrame >= this.options.embedEveryFrames;
    if (!due && !face.embedding) return true;
    const e = await this.embed(face);
    if (!e || !face.accepted) return true;
    if (id && cosine(id, e) < this.options.linkMinSimilarity) return false;
    return true;
  }

  /** Count the face and keep it if it is among the track's best K (plus spares). */
  private consider(track: Track, face: FaceRecord, frame: number, timeMs: number, image: RgbImage): void {
    if (!face.accepted) return;
    track.accepted++;
    track.maxEyeDistance = Math.max(track.maxEyeDistance, face.quality.eye_distance);
    track.sharpness.push(face.quality.sharpness);
    if (face.embedding) track.addEmbedding(face.embedding, frame);
    const rank = qualityRank(face.quality);
    const keep = this.crops.bestK + SPARE_CANDIDATES;
    if (track.candidates.length >= keep && rank <= track.candidates[keep - 1]!.rank) return;
    const [x1, y1, x2, y2] = face.box;
    const mx = (x2 - x1) * this.crops.margin;
    const my = (y2 - y1) * this.crops.margin;
    const region = { x: x1 - mx, y: y1 - my, width: x2 - x1 + 2 * mx, height: y2 - y1 + 2 * my };
    const crop = cropImage(image, region);
    const candidate: CropCandidate = { frameIndex: frame, timeMs, face, rank, crop, cropOrigin: [Math.max(0, Math.floor(region.x)), Math.max(0, Math.floor(region.y))] };
    track.candidates.push(candidate);
    track.candidates.sort((a, b) => b.rank - a.rank);
    track.candidates.length = Math.min(track.candidates.length, keep);
    // keep the whole frame only for the best face: one frame per live track at most
    for (const c of track.candidates) if (c !== track.candidates[0]) delete c.frame;
    if (this.crops.contextFrame && track.candidates[0] === candidate) candidate.frame = image;
  }
}

interface Pair {
  track: Track;
  face: FaceRecord;
  overlap: number;
  score: number;
}
