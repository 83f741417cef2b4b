/**
 * Calls `onTimeout` once when `touch()` has not been called for `timeoutMs`; checked four times per timeout so
 * a stall is noticed between 1x and 1.25x the timeout. Monotonic time: a wall-clock jump is not a stall.
 */
export function activityTimeout(timeoutMs: number, onTimeout: () => void): { touch(): void; clear(): void } {
  let last = performance.now();
  let timer: NodeJS.Timeout | undefined = setInterval(() => {
    if (performance.now() - last >= timeoutMs) {
      clear();
      onTimeout();
    }
  }, Math.max(50, timeoutMs / 4));
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
