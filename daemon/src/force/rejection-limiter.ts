/** Boxes (or topic owners) tracked at once; past this, the idle ones are forgotten first. */
const MAX_TRACKED = 10_000;

/** Rejections of one box that were counted but not recorded one by one. */
export interface SuppressedRejections {
  /** The box the rejected messages came from (as its topic named it), or `unknown`. */
  source: string;
  count: number;
  /** Count per reason. */
  reasons: Record<string, number>;
  firstUtc: number;
  lastUtc: number;
}

interface Bucket {
  tokens: number;
  at: number;
  suppressed?: SuppressedRejections;
}

/**
 * A token bucket per box for the records of refused messages: a flooding or broken box gets `perMinute`
 * rejection rows, audit rows and log lines a minute (a burst of as many), and the rest are counted into one
 * summary per `summaryMs`. Every rejection is counted: those recorded one by one plus the summaries' counts.
 */
export class RejectionLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly o: { perMinute: number; summaryMs: number }) {}

  /** True: record this rejection in full. False: it is counted for its box's next summary. */
  admit(source: string, reason: string, now: number): boolean {
    let b = this.buckets.get(source);
    if (!b) {
      if (this.buckets.size >= MAX_TRACKED) this.forgetIdle(now);
      b = { tokens: this.o.perMinute, at: now };
      this.buckets.set(source, b);
    }
    b.tokens = Math.min(this.o.perMinute, b.tokens + ((now - b.at) * this.o.perMinute) / 60_000);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return true;
    }
    const s = (b.suppressed ??= { source, count: 0, reasons: {}, firstUtc: now, lastUtc: now });
    s.count++;
    s.reasons[reason] = (s.reasons[reason] ?? 0) + 1;
    s.lastUtc = now;
    return false;
  }

  /** The summaries whose period is over (all of them with `all`, e.g. at shutdown); each is handed out once. */
  due(now: number, all = false): SuppressedRejections[] {
    const out: SuppressedRejections[] = [];
    for (const b of this.buckets.values()) {
      if (b.suppressed && (all || now - b.suppressed.firstUtc >= this.o.summaryMs)) {
        out.push(b.suppressed);
        b.suppressed = undefined;
      }
    }
    this.forgetIdle(now);
    return out;
  }

  /** Boxes whose bucket is full again and that have nothing to summarise are the same as new ones. */
  private forgetIdle(now: number): void {
    for (const [source, b] of this.buckets) {
      if (!b.suppressed && b.tokens + ((now - b.at) * this.o.perMinute) / 60_000 >= this.o.perMinute) this.buckets.delete(source);
    }
  }
}

/** One line for the log and the rejection row: "N more rejections from box X suppressed in the last T s". */
export function suppressedText(s: SuppressedRejections, now: number): string {
  const reasons = Object.entries(s.reasons)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 10)
    .map(([r, n]) => `${r} ${n}`)
    .join(', ');
  return `${s.count} more rejections from box ${s.source} suppressed in the last ${Math.max(1, Math.round((now - s.firstUtc) / 1000))} s (${reasons})`;
}
