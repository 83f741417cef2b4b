/**
 * Capped exponential backoff with jitter for restarting ffmpeg: initial, 2x, 4x ... up to `maxMs`, each
 * multiplied by a random factor in [1 - jitter, 1 + jitter] so cameras that failed together do not retry in step.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly jitter = 0.2,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    const factor = 1 - this.jitter + 2 * this.jitter * this.random();
    return Math.round(base * factor);
  }

  /** A run that recorded something resets the sequence. */
  reset(): void {
    this.attempt = 0;
  }

  get failures(): number {
    return this.attempt;
  }
}
