import { describe, expect, it } from 'vitest';
import { configView } from '../../../daemon/src/force/config-state.js';
import { AuditHeadsRepo } from '../../../daemon/src/force/db/audit-heads.js';
import { DesiredConfigRepo } from '../../../daemon/src/force/db/desired.js';
import { FleetRepo } from '../../../daemon/src/force/db/fleet.js';
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
    expect(all[1]).toMatchObject({ state: 'revoked', health: null, cameras: null, audit: null });
    expect(all[3]!.audit).toMatchObject({ status: 'alarm', alarm: 'the log was rewritten' });
    expect(all[8]).toMatchObject({ state: 'never seen', sinceUtc: null, health: null });
    expect(fleetLines(db, 'box-0')).toEqual([]);
    fdb.close();
  });
});
