import { describe, expect, it } from 'vitest';
import { PACE_MIN_MS, RelayPace, type Paced } from '../../../daemon/src/cameras/relay-pace.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How many times a 1 ms timer fires in `ms` of wall time: a free loop runs it often, a paced one rarely. */
async function ticksIn(ms: number): Promise<number> {
  let n = 0;
  const t = setInterval(() => (n += 1), 1);
  await sleep(ms);
  clearInterval(t);
  return n;
}

describe('relay process pacing', () => {
  it('sleeps between turns only while every relay is steady, and stops when none is open', async () => {
    const relays: Paced[] = [{ steady: true }, { steady: false }];
    let looks = 0;
    const pace = new RelayPace(
      () => {
        looks += 1;
        return relays;
      },
      () => 100,
    );
    pace.start();
    // one relay is setting up: the loop runs freely
    expect(await ticksIn(500)).toBeGreaterThan(30);

    relays[1] = { steady: true };
    await sleep(150);
    // all play: a turn every 100 ms, in which the timer fires about once
    expect(await ticksIn(1000)).toBeLessThan(20);

    relays.length = 0;
    await sleep(250);
    const after = looks;
    expect(await ticksIn(500)).toBeGreaterThan(30);
    expect(looks, 'no relay open: the pacer stopped looking').toBe(after);
  });
});

describe('relay process pacing: the sleeps', () => {
  it('last between the bounds and differ, so segment closes are not always seen equally late', async () => {
    const relays: Paced[] = [{ steady: true }];
    new RelayPace(() => relays).start();
    // a 1 ms timer fires once per turn of the paced loop: the gaps between its firings are the sleeps
    const at: number[] = [];
    const t = setInterval(() => at.push(performance.now()), 1);
    await sleep(2000);
    clearInterval(t);
    relays.length = 0;
    const gaps = at.slice(1).map((v, i) => v - at[i]!).filter((g) => g > 5);
    expect(gaps.length).toBeGreaterThan(10);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(PACE_MIN_MS - 1);
    expect(Math.max(...gaps) - Math.min(...gaps), `not one fixed interval: ${gaps.map(Math.round).join(' ')}`).toBeGreaterThan(20);
  });
});
