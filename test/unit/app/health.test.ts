import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CAMERA_DOWN, CLOCK_UNSYNCED, healthAlarms, healthFigures, KEYSET_EXPIRING, OUTBOX_GROWING } from '../../../daemon/src/app/health.js';
import { BootsRepo } from '../../../daemon/src/db/repos/boots.js';
import { CameraStatusRepo, type CameraStatus } from '../../../daemon/src/db/repos/camera-status.js';
import { CamerasRepo } from '../../../daemon/src/db/repos/cameras.js';
import { GapsRepo } from '../../../daemon/src/db/repos/gaps.js';
import { OutboxRepo } from '../../../daemon/src/db/repos/outbox.js';
import { openForceDb } from '../../../daemon/src/force/database.js';
import { enrollDevice } from '../../../daemon/src/force/enroll.js';
import { forceKeygen, loadRootKey, rotateRecipientKey } from '../../../daemon/src/force/keys.js';
import type { AppContext } from '../../../daemon/src/kernel/context.js';
import { checkPayload, HealthPayload, type HealthAlarmItem } from '../../../daemon/src/protocol/schemas.js';
import { DISK_LOW } from '../../../daemon/src/recorder/retention.js';
import { installBundle, KeySetStore, readBundle } from '../../../daemon/src/uplink/enrollment.js';
import { ClockSyncMonitor, type ClockState } from '../../../daemon/src/util/clock-sync.js';
import { IncidentHarness, T0 } from '../../helpers/incident-harness.js';
import { tempDir } from '../../helpers/paths.js';

const MINUTE = 60_000;
const DAY = 86_400_000;
const GB = 1024 ** 3;

/**
 * The real monitor asks chrony or timesyncd, which a test machine may or may not run: this one says what
 * the test sets, and nothing else differs (the health figures only read `current()`).
 */
class SetClockSync extends ClockSyncMonitor {
  value: ClockState = { synced: true, offset_ms: 3, source: 'chrony' };
  override current(): ClockState {
    return this.value;
  }
}

/** A box on a real database and config (manual clock), its health figures, and its free disk space set by the test. */
function box() {
  const h = new IncidentHarness(tempDir('hs-health-'));
  const clockSync = new SetClockSync();
  const ctx: AppContext = { ...h.ctx, clockSync };
  const disk = { free: 100 * GB as number | null };
  const figures = healthFigures(ctx, () => ({ available: false, models: [] }), { freeBytes: () => disk.free });
  // what the uplink watches to send the document on change: the same alarms, read without the segment scan
  const watched = healthAlarms(ctx, { freeBytes: () => disk.free });
  // a running daemon: its boot row says it has not stopped, so the recorder's statuses count as live
  new BootsRepo(h.db).start('test-boot', h.clock.now(), 'test');
  const alarms = async (): Promise<HealthAlarmItem[]> => {
    const f = await figures();
    // the whole document the uplink would send must pass its schema
    checkPayload(HealthPayload, { ...f, ts: h.clock.now(), uptime_s: 1, version: 'test', clock: { synced: true, offset_ms: 0, source: 'chrony' }, outbox: { pending: 0, bytes: 0, oldest_age_s: null } });
    expect(watched()).toEqual(f.alarms);
    return f.alarms as HealthAlarmItem[];
  };
  const ofKind = async (kind: string): Promise<HealthAlarmItem[]> => (await alarms()).filter((a) => a.kind === kind);
  return { h, clockSync, disk, alarms, ofKind };
}

function status(cameraId: string, state: CameraStatus['state'], sinceUtcMs: number, updatedUtcMs: number, bitrateKbps: number | null = null): CameraStatus {
  return { cameraId, state, reason: state === 'recording' ? null : 'connection refused', sinceUtcMs, fps: bitrateKbps ? 10 : null, bitrateKbps, lastSegmentEndUtcMs: null, spawns: 1, bootId: 'test-boot', updatedUtcMs };
}

describe('the alarms computed in the health document (cleared with their cause, never stored)', () => {
  it('a healthy box has none', async () => {
    const { alarms } = box();
    expect(await alarms()).toEqual([]);
  });

  it('camera.down: an enabled camera not recording for 2 minutes, since it stopped; a disabled camera is no alarm', async () => {
    const { h, ofKind } = box();
    const statuses = new CameraStatusRepo(h.db);
    h.addCamera('till1');
    new CamerasRepo(h.db).insert({ id: 'door', name: 'door', url: 'rtsp://127.0.0.1:1/door', transport: 'tcp', zone: 'door', enabled: false }, undefined, h.clock.now());
    statuses.put(status('door', 'disabled', T0, T0));
    const stoppedAt = T0 + 10_000;
    const live = (state: CameraStatus['state']): void => {
      statuses.put(status('till1', state, stoppedAt, h.clock.now()));
      statuses.put(status('door', 'disabled', T0, h.clock.now()));
    };

    h.clock.set(stoppedAt + MINUTE);
    live('failed');
    expect(await ofKind(CAMERA_DOWN)).toEqual([]); // a camera rebooting gets its two minutes

    h.clock.set(stoppedAt + 3 * MINUTE);
    live('failed');
    const [down] = await ofKind(CAMERA_DOWN);
    expect(down).toMatchObject({ subject: 'till1', since: stoppedAt });
    expect(down!.message).toContain('camera till1 has not recorded for 3 min (state failed');
    expect((await ofKind(CAMERA_DOWN)).map((a) => a.subject)).toEqual(['till1']); // not `door`, which a manager disabled

    // the open gap says best when the footage stopped (the recorder's state may have changed since)
    new GapsRepo(h.db).open('till1', T0 + 5000, 'camera unreachable');
    expect(await ofKind(CAMERA_DOWN)).toMatchObject([{ subject: 'till1', since: T0 + 5000 }]);

    live('recording');
    expect(await ofKind(CAMERA_DOWN)).toEqual([]);

    // a recorder that stops reporting (frozen, or the database refuses its writes) is down from when it was last heard of
    new GapsRepo(h.db).close('till1', h.clock.now());
    const lastHeard = h.clock.now();
    h.clock.advance(2 * MINUTE + 1000);
    statuses.put(status('door', 'disabled', T0, h.clock.now()));
    expect(await ofKind(CAMERA_DOWN)).toMatchObject([{ subject: 'till1', since: lastHeard }]);

    // disabling it ends the alarm at once
    const cameras = new CamerasRepo(h.db);
    const till1 = cameras.get('till1')!;
    cameras.update({ id: till1.id, name: till1.name, url: till1.url, transport: till1.transport, zone: till1.zone, enabled: false }, undefined, h.clock.now());
    expect(await ofKind(CAMERA_DOWN)).toEqual([]);
  });

  it('the alarms the uplink watches are the document\'s, in its order, with several cameras down', async () => {
    const { h, alarms } = box();
    const statuses = new CameraStatusRepo(h.db);
    for (const id of ['till2', 'door', 'till1']) h.addCamera(id);
    h.clock.advance(3 * MINUTE);
    for (const id of ['till2', 'door', 'till1']) statuses.put(status(id, 'reconnecting', T0, h.clock.now()));
    // alarms() checks the watched list equals the document's
    expect((await alarms()).map((a) => `${a.kind} ${a.subject}`)).toEqual([`${CAMERA_DOWN} door`, `${CAMERA_DOWN} till1`, `${CAMERA_DOWN} till2`]);
  });

  it('clock.unsynced: not synchronised, or more than a second off; clears when the clock is right again', async () => {
    const { h, clockSync, ofKind } = box();
    expect(await ofKind(CLOCK_UNSYNCED)).toEqual([]);

    clockSync.value = { synced: false, offset_ms: null, source: 'unknown' };
    const first = h.clock.now();
    expect(await ofKind(CLOCK_UNSYNCED)).toMatchObject([{ subject: 'clock', since: first }]);
    h.clock.advance(MINUTE);
    const [a] = await ofKind(CLOCK_UNSYNCED);
    expect(a).toMatchObject({ since: first }); // since: first seen, not each document's time
    expect(a!.message).toContain('no time service (chrony or systemd-timesyncd) answers');

    clockSync.value = { synced: true, offset_ms: 4, source: 'chrony' };
    expect(await ofKind(CLOCK_UNSYNCED)).toEqual([]);

    clockSync.value = { synced: true, offset_ms: -1500, source: 'chrony' };
    const [off] = await ofKind(CLOCK_UNSYNCED);
    expect(off).toMatchObject({ since: h.clock.now() });
    expect(off!.message).toContain('the clock is -1500 ms off');

    clockSync.value = { synced: true, offset_ms: 900, source: 'timesyncd' };
    expect(await ofKind(CLOCK_UNSYNCED)).toEqual([]);
  });

  it('uplink.outbox_growing: evidence waiting over an hour, or the outbox past 80 % of its bound', async () => {
    const { h, ofKind } = box();
    const outbox = new OutboxRepo(h.db);
    const queue = (id: string, bytes: number, createdUtc: number, seq: number): void =>
      outbox.insert({ envelopeId: id.padEnd(32, '0'), incidentId: `inc-${id}`, kind: 'evidence', msgSeq: seq, createdUtc, manifest: {}, nChunks: 1, bytes, bodySha256: '0'.repeat(64), workingFiles: [] });

    queue('a', 1_000_000, h.clock.now(), 1);
    h.clock.advance(59 * MINUTE);
    expect(await ofKind(OUTBOX_GROWING)).toEqual([]);
    h.clock.advance(2 * MINUTE);
    const [late] = await ofKind(OUTBOX_GROWING);
    expect(late).toMatchObject({ subject: 'outbox', since: T0 });
    expect(late!.message).toContain('1 evidence envelope(s) undelivered');
    outbox.markDelivered('a'.padEnd(32, '0'), h.clock.now(), '{}');
    expect(await ofKind(OUTBOX_GROWING)).toEqual([]);

    // young, but big: 85 % of uplink.outbox_max_bytes
    const max = h.ctx.config.uplink.outbox_max_bytes;
    queue('b', Math.round(max * 0.85), h.clock.now(), 2);
    expect(await ofKind(OUTBOX_GROWING)).toMatchObject([{ since: h.clock.now(), message: expect.stringContaining('85 % of uplink.outbox_max_bytes') }]);
    outbox.markDelivered('b'.padEnd(32, '0'), h.clock.now(), '{}');
    queue('c', Math.round(max * 0.5), h.clock.now(), 3);
    expect(await ofKind(OUTBOX_GROWING)).toEqual([]);
  });

  it("uplink.keyset_expiring: the force's keys ending in 10 days alarm, in 60 days not; only on an enrolled box", async () => {
    const { h, ofKind } = box();
    const forceDir = path.join(h.dir, 'force');
    forceKeygen(forceDir, { now: h.clock.now(), validityDays: 10 });
    expect(await ofKind(KEYSET_EXPIRING)).toEqual([]); // not enrolled: no key set to speak of

    const fdb = openForceDb(forceDir);
    const { file } = enrollDevice({ dir: forceDir, deviceId: 'box-1', store: 'Test Store', brokerUrl: 'mqtts://127.0.0.1:1', caPem: 'x', prefix: 'hindsight/v1', now: h.clock.now(), db: fdb.db, audit: fdb.audit });
    fdb.close();
    installBundle(readBundle(file), { stateDir: h.ctx.paths.stateDir, deviceId: 'box-1', db: h.db, audit: h.ctx.audit, clock: h.clock });
    const [expiring] = await ofKind(KEYSET_EXPIRING);
    expect(expiring).toMatchObject({ subject: '1', since: T0 + 10 * DAY - 30 * DAY });
    expect(expiring!.message).toContain(`its last recipient key ends ${new Date(T0 + 10 * DAY).toISOString()} (in 10 days)`);

    // the force rotates: a new recipient key valid 60 days (the old one stays for the overlap)
    const rotated = rotateRecipientKey(forceDir, { now: h.clock.now(), overlapDays: 7, validityDays: 60 });
    new KeySetStore(h.db).install(rotated, loadRootKey(forceDir).pk, h.clock.now(), h.ctx.audit, 'test');
    expect(await ofKind(KEYSET_EXPIRING)).toEqual([]);

    // 31 days later that key has 29 days left; 61 days later none is valid
    h.clock.advance(31 * DAY);
    expect(await ofKind(KEYSET_EXPIRING)).toMatchObject([{ subject: '2', since: T0 + 30 * DAY }]);
    h.clock.advance(30 * DAY);
    const [expired] = await ofKind(KEYSET_EXPIRING);
    expect(expired!.message).toContain("the force's key set 2 has no valid recipient key (the last ended");
  });

  it('buffer.disk_low: free space under buffer.min_free_gb beyond what retention frees, once, stored or computed', async () => {
    const { h, disk, ofKind } = box();
    const floor = h.ctx.config.buffer.min_free_gb * GB;
    disk.free = floor + GB;
    expect(await ofKind(DISK_LOW)).toEqual([]);

    disk.free = floor - GB;
    const [low] = await ofKind(DISK_LOW);
    expect(low).toMatchObject({ subject: 'buffer', since: T0 });
    expect(low!.message).toContain('under the 2.00 GB floor (buffer.min_free_gb)');

    // retention's own alarm for the same disk: one alarm only (the stored one)
    h.clock.advance(MINUTE);
    h.alarms.raise(DISK_LOW, 'buffer', 'only locked footage is left to delete');
    expect(await ofKind(DISK_LOW)).toEqual([{ kind: DISK_LOW, subject: 'buffer', since: T0 + MINUTE }]);
    h.alarms.clear(DISK_LOW, 'buffer');

    disk.free = floor + 1;
    expect(await ofKind(DISK_LOW)).toEqual([]);

    // a camera writing 1 MB/s dips under the floor between two retention runs (30 s apart): that is no alarm
    h.addCamera('till1');
    new CameraStatusRepo(h.db).put(status('till1', 'recording', T0, h.clock.now(), 8000));
    disk.free = floor - 30e6;
    expect(await ofKind(DISK_LOW)).toEqual([]);
    disk.free = floor - 100e6;
    expect(await ofKind(DISK_LOW)).toHaveLength(1);
  });
});
