import { describe, expect, it } from 'vitest';
import { forEachLimited } from '../../../daemon/src/util/parallel.js';

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('forEachLimited', () => {
  it('runs every item, never more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    const done: number[] = [];
    await forEachLimited([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      running++;
      most = Math.max(most, running);
      await tick(5 + (n % 3) * 5);
      running--;
      done.push(n);
    });
    expect(done.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(most).toBe(3);
  });

  it('after a failure starts nothing new, waits for the running ones, then throws the first error', async () => {
    const started: number[] = [];
    const finished: number[] = [];
    const ended: number[] = [];
    const run = forEachLimited([1, 2, 3, 4, 5], 2, async (n) => {
      started.push(n);
      if (n === 1) throw new Error('camera 1 could not be cut');
      await tick(30);
      ended.push(n);
      if (n === 2) throw new Error('camera 2 later');
      finished.push(n);
    });
    await expect(run).rejects.toThrow('camera 1 could not be cut');
    // item 2 was running when 1 failed: it was waited for (and its own failure is not the one thrown)
    expect(started).toEqual([1, 2]);
    expect(ended, 'item 2 had ended when the error was thrown').toEqual([2]);
    expect(finished).toEqual([]);
  });

  it('does nothing for no items', async () => {
    let calls = 0;
    await forEachLimited([], 4, async () => {
      calls++;
    });
    expect(calls).toBe(0);
  });
});
