import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../daemon/src/audit/log.js';
import { openDatabase } from '../../../daemon/src/db/db.js';
import { MetaRepo } from '../../../daemon/src/db/repos/meta.js';
import { runCli, writeConfig } from '../../helpers/cli.js';
import { BoxSettings, FORCE_MAX_HOURS_KEY } from '../../../daemon/src/kernel/settings.js';
import { bufferPolicy } from '../../../daemon/src/recorder/retention.js';
import { IncidentHarness, makeSegmentFiles } from '../../helpers/incident-harness.js';
import { tempDir } from '../../helpers/paths.js';

const MANAGER = { type: 'user' as const, id: 'maria', role: 'manager' };

describe("a store manager's settings, within the force's caps", () => {
  let footage: string[];
  beforeAll(async () => {
    footage = await makeSegmentFiles(path.join(tempDir(), 'footage'), 10);
  });

  const box = (incidents: Record<string, unknown> = {}): { h: IncidentHarness; settings: BoxSettings } => {
    const h = new IncidentHarness(tempDir(), { window_before_s: 60, window_after_s: 30, ...incidents });
    h.addCamera('till1');
    h.indexFootage('till1', footage, h.clock.now() - 200_000);
    return { h, settings: new BoxSettings(h.ctx) };
  };
  const audit = (h: IncidentHarness): unknown[] =>
    (h.db.prepare("SELECT object_ids, detail FROM audit WHERE action = 'settings.changed' ORDER BY seq").all() as { object_ids: string; detail: string }[]).map((r) => ({ key: (JSON.parse(r.object_ids) as string[])[0], ...(JSON.parse(r.detail) as object) }));

  it('a change applies at once (the next incident uses it), is stored, audited, and survives a restart', () => {
    const { h, settings } = box();
    settings.change({ 'incidents.window_before_s': 120, 'buffer.hours': 12 }, MANAGER);
    const i = h.logIncident(['till1'], { before_s: undefined, after_s: undefined });
    expect(i.windowToMs - i.windowFromMs, 'the new default window: 120 s before + 30 s after').toBe(150_000);
    expect(bufferPolicy(h.ctx.config, h.db).retentionMs, 'retention reads it on its next pass').toBe(12 * 3_600_000);
    expect(audit(h)).toEqual([
      { key: 'incidents.window_before_s', from: 60, to: 120 },
      { key: 'buffer.hours', from: 24, to: 12 },
    ]);

    // a new daemon life on the same database: the config file still says 60 s and 24 h
    const again = h.restart();
    expect(again.ctx.config.incidents.window_before_s).toBe(60);
    new BoxSettings(again.ctx).applyStored();
    expect(again.ctx.config.incidents.window_before_s).toBe(120);
    expect(again.ctx.config.buffer.hours).toBe(12);
    const view = new BoxSettings(again.ctx).list().find((s) => s.key === 'incidents.window_before_s')!;
    expect(view).toMatchObject({ value: 120, changed: true, max: 600, max_set_by: 'force' });
  });

  it("refuses, in words and all or nothing, values outside the range or above the force's caps", () => {
    const { h, settings } = box({ max_window_s: 300 });
    new MetaRepo(h.db).set(FORCE_MAX_HOURS_KEY, '48');
    const refused = (values: Record<string, number | null>, why: RegExp): void => {
      expect(() => settings.change(values, MANAGER)).toThrow(why);
    };
    refused({ 'buffer.hours': 72 }, /Keep recordings for may be at most 48 hours, a limit set by the police force/);
    refused({ 'incidents.window_before_s': 301 }, /at most 300 seconds, a limit set by the police force/);
    refused({ 'incidents.window_before_s': 200, 'incidents.window_after_s': 200 }, /together may be at most 300 seconds/);
    refused({ 'incidents.press_expiry_min': 2.5 }, /whole number of minutes/);
    refused({ 'incidents.per_user_per_hour': 0 }, /at least 1 incidents/);
    refused({ 'incidents.per_user_per_hour': 31 }, /at most 30 incidents/);
    refused({ 'recorder.segment_seconds': 2 }, /not a setting the console can change/);
    // one good value with a bad one: neither is applied
    refused({ 'buffer.hours': 6, 'incidents.window_after_s': 1000 }, /at most 300/);
    expect(h.ctx.config.buffer.hours).toBe(24);
    expect(audit(h)).toEqual([]);
    expect(settings.list().every((s) => !s.changed)).toBe(true);
    expect(settings.list().find((s) => s.key === 'buffer.hours')).toMatchObject({ max: 48, max_set_by: 'force', value: 24 });
  });

  it('null goes back to the config file; a stored value above a cap lowered since is used at the cap', () => {
    const { h, settings } = box();
    settings.change({ 'buffer.hours': 100 }, MANAGER);
    settings.change({ 'buffer.hours': null }, MANAGER);
    expect(h.ctx.config.buffer.hours).toBe(24);
    expect(audit(h)).toEqual([
      { key: 'buffer.hours', from: 24, to: 100 },
      { key: 'buffer.hours', from: 100, to: 24, back_to_default: true },
    ]);
    // unchanged values write nothing
    settings.change({ 'buffer.hours': null }, MANAGER);
    expect(audit(h)).toHaveLength(2);

    settings.change({ 'buffer.hours': 100 }, MANAGER);
    new MetaRepo(h.db).set(FORCE_MAX_HOURS_KEY, '36');
    const again = h.restart();
    new BoxSettings(again.ctx).applyStored();
    expect(again.ctx.config.buffer.hours, "the force's new cap wins").toBe(36);
    expect(again.logLines.some((l) => String(l.msg).includes("the manager's 100 is outside what is allowed now; using 36"))).toBe(true);
  });

  it('the CLI shows what the daemon uses: `buffer status` reads the manager\'s hours over the config file', async () => {
    const dir = tempDir();
    const config = writeConfig(dir);
    const db = openDatabase(path.join(dir, 'state', 'hindsight.db'));
    const h = new IncidentHarness(tempDir());
    new BoxSettings({ ...h.ctx, db, audit: new AuditLog(db, h.clock) }).change({ 'buffer.hours': 12 }, MANAGER);
    db.close();
    const r = await runCli(['buffer', 'status', '--json', '--config', config]);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { policy: { hours: number } }).policy.hours).toBe(12);
  });
});
