import { describe, expect, it } from 'vitest';
import { ForcePolicy } from '../../../daemon/src/kernel/force-config.js';
import { BoxSettings } from '../../../daemon/src/kernel/settings.js';
import type { DesiredDoc } from '../../../daemon/src/protocol/force-config.js';
import { IncidentHarness } from '../../helpers/incident-harness.js';
import { tempDir } from '../../helpers/paths.js';

const FORCE = { type: 'force' as const, id: '0123456789abcdef', role: 'command-admin' };
const MANAGER = { type: 'user' as const, id: 'maria', role: 'manager' };
const doc = (version: number, config: Record<string, unknown>): DesiredDoc => ({ device_id: 'test-box', version, config, iat: 0 });

describe("the force's desired configuration on the box: checked whole, stored with the previous one, laid over the config file", () => {
  it("a lower cap holds the managers' settings (and the config file's) to it; taking the key away gives them back", () => {
    const h = new IncidentHarness(tempDir(), { window_before_s: 60, window_after_s: 30 });
    const policy = new ForcePolicy(h.ctx);
    const settings = new BoxSettings(h.ctx);
    settings.change({ 'buffer.hours': 20 }, MANAGER);
    expect(policy.accept(doc(1, { 'buffer.max_hours': 12, 'incidents.max_window_s': 60 }), FORCE)).toMatchObject({ ok: true, changed: true });
    settings.applyStored();
    expect(h.ctx.config.buffer.hours).toBe(12);
    // 60 + 30 does not fit a cap of 60: the part after the moment is shortened first
    expect([h.ctx.config.incidents.window_before_s, h.ctx.config.incidents.window_after_s]).toEqual([60, 0]);
    policy.accept(doc(2, { 'incidents.max_window_s': 40 }), FORCE);
    settings.applyStored();
    expect(h.ctx.config.buffer.hours, "the cap is gone: the manager's 20 again").toBe(20);
    expect([h.ctx.config.incidents.window_before_s, h.ctx.config.incidents.window_after_s]).toEqual([40, 0]);
    policy.accept(doc(3, {}), FORCE);
    settings.applyStored();
    expect([h.ctx.config.incidents.window_before_s, h.ctx.config.incidents.window_after_s], 'no cap from the force: the config file again').toEqual([60, 30]);
  });

  it('an invalid document is refused with every reason and changes nothing; the same version again is no change', () => {
    const h = new IncidentHarness(tempDir(), {});
    const policy = new ForcePolicy(h.ctx);
    policy.accept(doc(1, { crops_only: true }), FORCE);
    expect(h.ctx.config.vision.embeddings).toBe(false);
    const bad = policy.accept(doc(2, { 'incidents.max_window_s': 601, matching: true, 'uplink.health_interval_s': 'often' }), FORCE);
    expect(bad.ok).toBe(false);
    expect(bad.ok ? [] : bad.errors).toEqual([
      'matching is not a force-owned setting (known: incidents.max_window_s, incidents.per_device_per_hour, buffer.max_hours, crops_only, uplink.health_interval_s)',
      'incidents.max_window_s must be at most 600',
      'uplink.health_interval_s must be a whole number',
    ]);
    expect(policy.applied().version).toBe(1);
    expect(h.ctx.config.vision.embeddings).toBe(false);
    expect(policy.accept(doc(1, { crops_only: true }), FORCE)).toMatchObject({ ok: true, changed: false });
    expect(policy.accept(doc(1, { crops_only: false }), FORCE)).toMatchObject({ ok: false, errors: ['version 1 is not above the applied version 1'] });
  });

  it('a key that needs a restart says so until the next start, which applies the stored document over the config file', () => {
    const h = new IncidentHarness(tempDir(), {});
    const policy = new ForcePolicy(h.ctx);
    const r = policy.accept(doc(1, { 'uplink.health_interval_s': 30, crops_only: true }), FORCE);
    expect(r).toMatchObject({ ok: true, applied: { version: 1, restartRequired: true } });
    const again = h.restart();
    expect(again.ctx.config.vision.embeddings, 'the config file says true').toBe(true);
    const next = new ForcePolicy(again.ctx);
    next.applyStored();
    expect(again.ctx.config.vision.embeddings).toBe(false);
    expect(again.ctx.config.uplink.health_interval_s).toBe(30);
    expect(next.applied()).toMatchObject({ version: 1, restartRequired: false });
    const rows = again.db.prepare("SELECT action FROM audit WHERE action LIKE 'config.force%'").pluck().all();
    expect(rows).toEqual(['config.force_applied']);
  });
});
