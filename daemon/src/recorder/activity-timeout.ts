/**
 * Calls `onTimeout` once when `touch()` has not been called for `timeoutMs`; checked four times per timeout so
 * a stall is noticed between 1x and 1.25x the timeout. Monotonic time: a wall-clock jump is not a stall.
 *
 * A check that runs much later than scheduled means this process was not running (SIGSTOP, swap, a long GC
 * pause): the watched child may well have been busy meanwhile and its output is still waiting in the pipe, so
 * the count starts again instead of declaring a stall the daemon caused itself.
 */
const FROZEN_LATE_MS = 1000;

export function activityTimeout(timeoutMs: number, onTimeout: () => void): { touch(): void; clear(): void } {
  const periodMs = Math.max(50, timeoutMs / 4);
  let last = performance.now();
  let tickAt = last;
  let timer: NodeJS.Timeout | undefined = setInterval(() => {
    const now = performance.now();
    const late = now - tickAt - periodMs;
    tickAt = now;
    if (late > FROZEN_LATE_MS) {
      last = now;
      return;
    }
    if (now - last >= timeoutMs) {
      clear();
      onTimeout();
    }
  }, periodMs);
  timer.unref();
  function clear(): void {
    if (timer) clearInterval(timer);
    timer = undefined;
  }
  return {
    touch: () => {
      last = performance.now();
    },
    clear,
  };
}
