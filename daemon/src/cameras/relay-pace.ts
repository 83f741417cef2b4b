/**
 * Paces the relay process (relay-main.ts) while every relay in it is steady (playing for a while): the process sleeps between turns
 * of its event loop, and each turn moves what every camera sent meanwhile with one read and one write per
 * camera. Left to itself the loop wakes for each burst a camera writes (two or more per video frame), and each
 * wake-up, with its system calls and its run of JavaScript, costs far more than the bytes it moves: paced, the
 * relay costs a fraction of what it did, and the recording ffmpeg, fed larger bursts, less too. Meanwhile the
 * bytes wait in the sockets' receive buffers (TCP holds a camera back if one fills), so nothing is copied or
 * queued in the process.
 *
 * The delay this adds is at most one sleep, on the way to ffmpeg. Segments are cut on the camera's timestamps
 * and the stall timeout is seconds, but the UTC index places a run's segments by the earliest a segment was
 * seen to close (recorder/wall-anchor.ts): the smallest of many observations. Each sleep is therefore drawn at
 * random between PACE_MIN_MS and PACE_MAX_MS: with a fixed interval, a camera's keyframes (every 2 s, a
 * multiple of it) would always arrive at the same point of the cycle and every segment close would be seen
 * equally late, which no minimum removes; with random sleeps the delays differ, and the smallest of a few is
 * close to none. Nor is any relay paced before each has played for a while (rtsp-relay.ts, UNPACED_START_MS):
 * a run's anchor is first set from segment closes seen without delay, which paced ones cannot move later; a
 * relay still setting up (its ffmpeg not yet connected, the RTSP requests and replies before PLAY) connects as
 * quickly as before. A process with no relay open sleeps until told.
 * The sleep is a plain blocking wait: this process serves the relays and nothing else.
 */
export const PACE_MIN_MS = 40;
export const PACE_MAX_MS = 100;

export interface Paced {
  /** Playing, and for long enough to be paced. */
  readonly steady: boolean;
}

export class RelayPace {
  private running = false;
  private readonly cell = new Int32Array(new SharedArrayBuffer(4));

  constructor(
    private readonly relays: () => Iterable<Paced>,
    private readonly sleepMs: () => number = () => PACE_MIN_MS + Math.random() * (PACE_MAX_MS - PACE_MIN_MS),
  ) {}

  /** A relay opened: pace again once all are steady. */
  start(): void {
    if (this.running) return;
    this.running = true;
    setImmediate(() => this.turn());
  }

  private turn(): void {
    let open = false;
    let allSteady = true;
    for (const r of this.relays()) {
      open = true;
      if (!r.steady) allSteady = false;
    }
    if (!open) {
      this.running = false;
      return;
    }
    if (allSteady) {
      // the sockets' readiness is gathered by the loop's next poll, which follows at once (an immediate is due)
      Atomics.wait(this.cell, 0, 0, this.sleepMs());
      setImmediate(() => this.turn());
    } else {
      // one is setting up or has just started playing: the loop runs freely; look again in a while
      setTimeout(() => this.turn(), PACE_MAX_MS);
    }
  }
}
