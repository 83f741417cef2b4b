import { afterEach, describe, expect, it, vi } from 'vitest';
import { IncidentHarness } from '../../helpers/incident-harness.js';
import { tempDir } from '../../helpers/paths.js';

/** What the incident worker tells the systemd watchdog (app/liveness.ts): its passes turn, none is stuck. */
describe('incident worker liveness', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('healthy right after a pass; "no incident pass" once none has run for two minutes; healthy again after the next', async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const h = new IncidentHarness(tempDir('hs-worker-live-'));
    await h.worker.tick();
    expect(h.worker.liveness()).toBeUndefined();
    vi.advanceTimersByTime(60_000);
    expect(h.worker.liveness()).toBeUndefined();
    vi.advanceTimersByTime(61_000);
    expect(h.worker.liveness()).toBe('no incident pass for 121 s');
    await h.worker.tick();
    expect(h.worker.liveness()).toBeUndefined();
  });

  it('a pass that does not end is named with how long it has run', async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const h = new IncidentHarness(tempDir('hs-worker-stuck-'));
    await h.worker.tick();
    // the state a pass that never returns leaves: begun (its start time kept), not finished
    (h.worker as unknown as { ticking: boolean }).ticking = true;
    vi.advanceTimersByTime(125_000);
    expect(h.worker.liveness()).toBe('an incident pass has been running for 125 s');
  });
});
