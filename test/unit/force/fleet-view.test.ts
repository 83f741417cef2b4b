import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../../daemon/src/db/db.js';
import { configView } from '../../../daemon/src/force/config-state.js';
import { AuditHeadsRepo } from '../../../daemon/src/force/db/audit-heads.js';
import { DesiredConfigRepo } from '../../../daemon/src/force/db/desired.js';
import { FleetRepo, type FleetSummary } from '../../../daemon/src/force/db/fleet.js';
import { FORCE_MIGRATIONS } from '../../../daemon/src/force/db/migrations.js';
import { fleetLines } from '../../../daemon/src/force/fleet-view.js';
import { forceWithBoxes } from '../../helpers/force-intake.js';

describe('fleet view: every box at once', () => {
  it("gives each box the line it has alone: presence, health figures, its configuration's state and its audit check", () => {
    const { fdb, clock, registry } = forceWithBoxes('hs-fleet-view-');
    const { db } = fdb;
    const now = clock.now();
    for (let i = 4; i <= 9; i++) registry.enroll(`box-${i}`, `Store ${i}`, now);
    const fleet = new FleetRepo(db);
    const desired = new DesiredConfigRepo(db);
    const heads = new AuditHeadsRepo(db);
    const health = (recording: number, down: number, alarms: unknown[]) => ({
      ts: now,
      cameras: [...Array(recording).fill({ state: 'recording' }), ...Array(down).fill({ state: 'reconnecting' })],
      alarms,
      disk: { free_bytes: 5e11 },
    });
    fleet.setState('box-1', { state: 'online', bootId: 'b1', bdSeq: 1, version: '0.1.0' }, now);
    fleet.setHealth('box-1', health(3, 1, [{ kind: 'camera_down', subject: 'cam4', message: 'check its cable' }]), now);
    fleet.setState('box-3', { state: 'offline', bootId: 'b3', bdSeq: 2, version: '0.1.0' }, now);
    fleet.setHealth('box-4', health(0, 0, []), now);
    // the configuration states: none (box-1), pending (box-3: never reported; box-5: an older version applied),
    // applied (box-4), waiting for a restart (box-6), refused (box-7); box-8 has two versions, the newest applied
    const version = (deviceId: string, v: number) => desired.insert({ deviceId, version: v, config: { 'buffer.max_hours': 24 + v }, signed: '{}', createdUtc: now, createdBy: 'admin', jobId: null });
    for (const id of ['box-3', 'box-4', 'box-5', 'box-6', 'box-7', 'box-8']) version(id, 1);
    version('box-5', 2);
    version('box-8', 2);
    const reported = (deviceId: string, appliedVersion: number, extra: { restartRequired?: boolean; rejectedVersion?: number } = {}) =>
      desired.setReported({ deviceId, appliedVersion, sha256: 'ab'.repeat(32), restartRequired: extra.restartRequired ?? false, rejectedVersion: extra.rejectedVersion ?? null, errors: extra.rejectedVersion ? ['no'] : null, reportedUtc: now });
    reported('box-4', 1);
    reported('box-5', 1);
    reported('box-6', 1, { restartRequired: true });
    reported('box-7', 0, { rejectedVersion: 1 });
    reported('box-8', 2);
    heads.acknowledge('box-1', { count: 10, headHash: 'cd'.repeat(32), boxTs: now }, 'baseline', now);
    heads.acknowledge('box-4', { count: 12, headHash: 'ef'.repeat(32), boxTs: now }, 'extended', now);
    heads.alarm('box-4', 'the log was rewritten', now);

    const all = fleetLines(db);
    expect(all.map((l) => l.deviceId)).toEqual(['box-1', 'box-2', 'box-3', 'box-4', 'box-5', 'box-6', 'box-7', 'box-8', 'box-9']);
    for (const line of all) expect(line, line.deviceId).toEqual(fleetLines(db, line.deviceId)[0]);
    for (const line of all) expect(line.config, line.deviceId).toBe(configView(db, line.deviceId).state);
    expect(Object.fromEntries(all.map((l) => [l.deviceId, l.config]))).toEqual({
      'box-1': 'none',
      'box-2': 'none',
      'box-3': 'pending',
      'box-4': 'applied',
      'box-5': 'pending',
      'box-6': 'restart_required',
      'box-7': 'rejected',
      'box-8': 'applied',
      'box-9': 'none',
    });
    expect(all[0]).toMatchObject({ state: 'online', cameras: { recording: 3, total: 4 }, alarms: [{ kind: 'camera_down', subject: 'cam4', message: 'check its cable' }], freeDiskBytes: 5e11, audit: { status: 'baseline' } });
    // the figures come out of the stored document; the document itself is passed through as the box sent it
    expect(JSON.parse(all[0]!.healthJson!)).toEqual(health(3, 1, [{ kind: 'camera_down', subject: 'cam4', message: 'check its cable' }]));
    expect(all[3]).toMatchObject({ cameras: { recording: 0, total: 0 }, alarms: [] });
    expect(all[1]).toMatchObject({ state: 'revoked', healthJson: null, cameras: null, audit: null });
    expect(all[3]!.audit).toMatchObject({ status: 'alarm', alarm: 'the log was rewritten' });
    expect(all[8]).toMatchObject({ state: 'never seen', sinceUtc: null, healthJson: null });
    expect(fleetLines(db, 'box-0')).toEqual([]);
    fdb.close();
  });
});

describe('fleet figures kept beside each health document (force migration 14)', () => {
  it('fills them for the documents a version-13 database already holds, as the receiver computes them for new ones', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-fleet-f014-'));
    const file = path.join(dir, 'force.db');
    const docs: Record<string, Record<string, unknown>> = {
      'box-a': { ts: 1, cameras: [{ state: 'recording' }, { state: 'recording' }, { state: 'reconnecting' }], alarms: [{ kind: 'disk_low', subject: 'buffer' }], disk: { free_bytes: 123456789012 } },
      'box-b': { ts: 1, cameras: [], alarms: [], disk: { free_bytes: 0 } },
      'box-c': { ts: 1 },
    };
    const old = openDatabase(file, { migrations: FORCE_MIGRATIONS.filter((m) => m.version <= 13) });
    for (const [id, doc] of Object.entries(docs)) {
      old.prepare("INSERT INTO fleet (device_id, state, since_utc, boot_id, bd_seq, version, health, health_utc) VALUES (?, 'online', 1, 'b', 1, '0.1.0', ?, 1)").run(id, JSON.stringify(doc));
    }
    old.prepare("INSERT INTO fleet (device_id, state, since_utc, boot_id, bd_seq, version) VALUES ('box-d', 'offline', 1, 'b', 1, '0.1.0')").run();
    old.close();

    const migrated = openDatabase(file, { migrations: FORCE_MIGRATIONS });
    const fromMigration = new FleetRepo(migrated).summaries();
    // the same documents stored anew through the receiver's path
    const fresh = openDatabase(path.join(dir, 'fresh.db'), { migrations: FORCE_MIGRATIONS });
    const repo = new FleetRepo(fresh);
    for (const [id, doc] of Object.entries(docs)) {
      repo.setState(id, { state: 'online', bootId: 'b', bdSeq: 1, version: '0.1.0' }, 1);
      repo.setHealth(id, doc, 1);
    }
    repo.setState('box-d', { state: 'offline', bootId: 'b', bdSeq: 1, version: '0.1.0' }, 1);
    const pick = (s: FleetSummary) => ({ id: s.deviceId, total: s.camerasTotal, recording: s.camerasRecording, alarms: s.alarmsJson === null ? null : JSON.parse(s.alarmsJson), free: s.freeDiskBytes });
    expect(fromMigration.map(pick)).toEqual([
      { id: 'box-a', total: 3, recording: 2, alarms: [{ kind: 'disk_low', subject: 'buffer' }], free: 123456789012 },
      { id: 'box-b', total: 0, recording: 0, alarms: [], free: 0 },
      { id: 'box-c', total: null, recording: null, alarms: null, free: null },
      { id: 'box-d', total: null, recording: null, alarms: null, free: null },
    ]);
    expect(repo.summaries().map(pick)).toEqual(fromMigration.map(pick));
    migrated.close();
    fresh.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
