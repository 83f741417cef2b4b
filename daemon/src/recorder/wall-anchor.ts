/**
 * Maps a run's stream clock (seconds from ffmpeg's first packet) to wall-clock UTC.
 *
 * Each time a segment closes we observe `wallNow - streamEnd`: the packet that closed it has just arrived, so
 * this is the true offset plus a delivery delay that is never negative (network, buffering, event loop).
 * The smallest recent observation is therefore the best estimate. A window of recent observations (rather
 * than the smallest ever) lets the estimate follow a camera whose clock runs slightly fast or slow.
 *
 * A jump larger than `jumpMs` (the box's clock was set, or the camera's timestamps jumped) resets the window
 * when it persists for several observations, so the index follows the new clock instead of drifting apart.
 */
const SETTLE_MS = 100;
const MAX_UNSETTLED = 5;

export class WallAnchor {
  private readonly samples: number[] = [];
  private farSamples = 0;
  private observations = 0;
  /**
   * False while the estimate is still falling fast: ffmpeg probes the stream for a few seconds before it writes
   * anything, then catches up in a burst, so the first segments close late on the wall clock. Settled once an
   * observation no longer lowers the estimate by more than SETTLE_MS (or after MAX_UNSETTLED observations).
   */
  settled = false;

  constructor(
    private readonly window = 32,
    private readonly jumpMs = 10_000,
  ) {}

  /** Record an observation; returns the current offset (ms to add to stream time in ms). */
  observe(wallMs: number, streamS: number): number {
    const sample = wallMs - streamS * 1000;
    const current = this.offsetMs;
    if (current !== undefined && Math.abs(sample - current) > this.jumpMs) {
      this.farSamples += 1;
      if (this.farSamples < 3) return current;
      this.samples.length = 0;
    }
    this.farSamples = 0;
    const before = this.offsetMs;
    this.samples.push(sample);
    if (this.samples.length > this.window) this.samples.shift();
    this.observations += 1;
    if ((before !== undefined && sample >= before - SETTLE_MS) || this.observations >= MAX_UNSETTLED) this.settled = true;
    return this.offsetMs!;
  }

  /**
   * The stream's clock jumped by `byMs` while the footage went on: every observation is moved by as much, so
   * the estimate stays what it was in wall time (the new clock continues where the old one stopped).
   */
  shift(byMs: number): void {
    for (let i = 0; i < this.samples.length; i++) this.samples[i]! -= byMs;
    this.farSamples = 0;
  }

  /** Forget every observation: the stream's clock jumped, the next observation anchors it again (no settling). */
  reset(): void {
    this.samples.length = 0;
    this.farSamples = 0;
    this.settled = true;
  }

  get offsetMs(): number | undefined {
    return this.samples.length ? Math.min(...this.samples) : undefined;
  }

  toWallMs(streamS: number): number {
    const offset = this.offsetMs;
    if (offset === undefined) throw new Error('no observation yet');
    return offset + streamS * 1000;
  }
}
