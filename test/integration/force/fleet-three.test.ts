import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAMERA_DOWN } from '../../../daemon/src/app/health.js';
import { startForceKit, type ForceKit } from '../../../daemon/src/devkit/force.js';
import type { FleetBox } from '../../../daemon/src/force/db/fleet.js';
import type { HealthAlarmItem } from '../../../daemon/src/protocol/schemas.js';
import { HEALTH_ALARM_WATCH_MS, HEALTH_CHANGE_MIN_GAP_MS, HEALTH_CHANGE_SETTLE_MS } from '../../../daemon/src/uplink/health-on-change.js';
import { prepareBox, startBoxDaemon, startReceiver, type PreparedBox } from '../../helpers/chain.js';
import { jsonLines, runCli } from '../../helpers/cli.js';
import { lengthenVideo, makeTestVideo } from '../../helpers/media.js';
import { REPO_ROOT, tempDir } from '../../helpers/paths.js';
import type { TestProcess } from '../../helpers/process.js';
import { waitFor } from '../../helpers/wait.js';

/** MQTT keepalive of every box: the broker gives a silent box's last will 1.5 keepalives after its last packet. */
const KEEPALIVE_S = 5;
/**
 * Over 1.5 keepalives: the broker's keepalive check, the receiver storing the message, a busy 2-core machine
 * (seen: 4.1 s over during a full suite run beside other work).
 */
const WILL_MARGIN_MS = 5000;
const WILL_BOUND_MS = 1.5 * KEEPALIVE_S * 1000 + WILL_MARGIN_MS;
/** Far longer than the test: every health document after the one at the connect is one sent on change. */
const HEALTH_INTERVAL_S = 300;
/** A camera not recording for this long is down (app/health.ts). */
const CAMERA_DOWN_AFTER_MS = 120_000;
/** Over a watch and a settle: the rate limit of documents on change, the receiver, a busy machine. */
const CHANGE_MARGIN_MS = HEALTH_CHANGE_MIN_GAP_MS + 3000;

const BOXES = [
  { deviceId: 'box-1', store: 'High Street', cameraId: 'till1', zone: 'tills' },
  { deviceId: 'box-2', store: 'Market Square', cameraId: 'door2', zone: 'door' },
  { deviceId: 'box-3', store: 'Old Town', cameraId: 'till3', zone: 'tills' },
] as const;

interface Health {
  cameras: { id: string; state: string }[];
  disk: { free_bytes: number | null };
  models: { name: string; sha256: string }[];
  alarms: HealthAlarmItem[];
  version: string;
  ts: number;
}

/**
 * Three `hindsight` daemons on one machine, each enrolled as its own box with its own test camera, one
 * real broker from the force's kit (TLS, generated ACL) and the force receiver: the fleet view shows each
 * with its own health; a box killed (kill -9) or frozen is offline by its last will within the keepalive
 * bound while the others stay online; restarted, it is online again in a new life. Health goes to the force
 * on change, not only every health_interval_s: a camera's state, an alarm raised and cleared.
 */
describe('fleet: three daemons on one machine', () => {
  let dir: string;
  let kit: ForceKit;
  let receiver: TestProcess | undefined;
  const boxes: (PreparedBox & { daemon?: TestProcess })[] = [];
  const figures: Record<string, string> = {};

  const fleet = async (): Promise<FleetBox[]> => {
    const r = await runCli(['force', 'fleet', 'list', '--json', '--config', kit.forceConfig]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as FleetBox[];
  };
  const box = async (id: string): Promise<FleetBox | undefined> => (await fleet()).find((b) => b.deviceId === id);
  const health = (b: FleetBox | undefined): Health | undefined => (b?.health ?? undefined) as Health | undefined;
  const daemon = (i: number): TestProcess => boxes[i]!.daemon!;
  /** The debug lines a box logged when it sent its health document on change. */
  const onChangeLines = (i: number): { reasons: string[]; time: string; started: string }[] =>
    jsonLines(daemon(i).lines).filter((l) => l.msg === 'health changed: health document sent') as unknown as { reasons: string[]; time: string; started: string }[];
  /** How many times box-3 connected: each connect sends a document too; with one connect, every later document was sent on change. */
  const box3Connects = (): number => jsonLines(daemon(2).lines).filter((l) => l.msg === 'mqtt connected').length;

  beforeAll(async () => {
    dir = tempDir('hs-fleet3-');
    // a small, cheap camera: 320x240 at 5 fps, one keyframe a second, long enough for the whole file (not looped)
    const clip = await makeTestVideo(path.join(dir, 'clip.ts'), { seconds: 20, width: 320, height: 240, fps: 5, gop: 5, bitrateKbps: 200 });
    const video = await lengthenVideo(clip, path.join(dir, 'cam.ts'), 900);
    kit = await startForceKit(dir, { devices: BOXES.map((b) => ({ id: b.deviceId, store: b.store })) });
    for (const b of BOXES) {
      const boxDir = path.join(dir, b.deviceId);
      mkdirSync(boxDir);
      boxes.push(await prepareBox(kit, boxDir, { ...b, video, uplink: { keepalive_s: KEEPALIVE_S, health_interval_s: HEALTH_INTERVAL_S } }));
    }
    receiver = await startReceiver(kit);
    await Promise.all(boxes.map(async (b) => (b.daemon = await startBoxDaemon(b.config))));
  }, 180_000);

  afterAll(async () => {
    await Promise.all(boxes.map((b) => b.daemon?.stop()));
    await receiver?.stop();
    await Promise.all(boxes.map((b) => b.camera.stop()));
    await kit?.broker.stop();
    if (Object.keys(figures).length) console.info(`fleet-three figures: ${JSON.stringify(figures)}`);
  });

  it('all three are online in `fleet list`, each with its own health: its camera recording, version, models, free disk', async () => {
    const version = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    const all = await waitFor(
      async () => {
        const list = await fleet();
        const ready = BOXES.every((b) => {
          const f = list.find((x) => x.deviceId === b.deviceId);
          return f?.state === 'online' && health(f)?.cameras[0]?.state === 'recording';
        });
        return ready ? list : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'three boxes online, each with its camera recording' },
    );
    expect(all.map((b) => b.deviceId)).toEqual(BOXES.map((b) => b.deviceId));
    for (const b of BOXES) {
      const f = all.find((x) => x.deviceId === b.deviceId)!;
      const h = health(f)!;
      expect(h.cameras.map((c) => c.id)).toEqual([b.cameraId]);
      expect(h.version).toBe(version);
      expect(f.version).toBe(version);
      expect(h.models.map((m) => m.name).sort()).toEqual(['detector', 'embedder', 'landmarks']);
      for (const m of h.models) expect(m.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(h.disk.free_bytes).toBeGreaterThan(0);
      expect(h.alarms.filter((a) => a.kind === CAMERA_DOWN)).toEqual([]);
      expect(f.bdSeq).toBe(1);
    }
    expect(new Set(all.map((b) => b.bootId)).size).toBe(3);

    const listed = await runCli(['force', 'fleet', 'list', '--config', kit.forceConfig]);
    expect(listed.code, listed.stderr).toBe(0);
    for (const b of BOXES) expect(listed.stdout).toMatch(new RegExp(`${b.deviceId}\\s+${b.store}\\s+online\\s`));
  });

  it("on change: box-3's camera stops and the force sees its state at once, not at the next interval", async () => {
    const before = (await box('box-3'))!;
    const stoppedAt = Date.now();
    await boxes[2]!.camera.stop();
    const after = await waitFor(async () => {
      const f = await box('box-3');
      return f && health(f)?.cameras[0]?.state !== 'recording' ? f : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200, what: "box-3's health with its camera not recording" });
    const ms = after.healthUtc! - stoppedAt;
    figures.camera_stop_to_health_at_force_ms = String(ms);
    expect(after.healthUtc!).toBeGreaterThan(before.healthUtc!);
    // the recorder notices within rtsp_timeout_s (2 s) or at once, then a settle; nowhere near the 300 s interval
    expect(ms).toBeLessThan(15_000);
    expect(onChangeLines(2).some((l) => l.reasons.some((r) => r.startsWith('camera till3 ') && r !== 'camera till3 recording'))).toBe(true);
    // the other boxes' cameras record on
    for (const id of ['box-1', 'box-2']) expect(health(await box(id))!.cameras[0]!.state).toBe('recording');
  });

  it('kill -9 of box-2: offline by its last will within the keepalive bound, the others stay online; restarted, online in a new life', async () => {
    const others = await Promise.all(['box-1', 'box-3'].map((id) => box(id)));
    const first = (await box('box-2'))!;
    expect(first.state).toBe('online');
    const killedAt = Date.now();
    await daemon(1).kill9();
    const dead = await waitFor(async () => {
      const f = await box('box-2');
      return f?.state === 'offline' ? f : undefined;
    }, { timeoutMs: WILL_BOUND_MS + 10_000, intervalMs: 200, what: 'box-2 offline by its last will' });
    // the time the force recorded the change, not the time this test polled it
    const ms = dead.sinceUtc - killedAt;
    figures.kill9_to_offline_ms = String(ms);
    expect(ms).toBeGreaterThanOrEqual(0);
    expect(ms).toBeLessThanOrEqual(WILL_BOUND_MS);
    expect(dead.bootId).toBe(first.bootId); // the will of that life
    for (const [k, id] of ['box-1', 'box-3'].entries()) {
      const f = (await box(id))!;
      expect(f.state).toBe('online');
      expect(f.sinceUtc).toBe(others[k]!.sinceUtc);
      expect(f.bootId).toBe(others[k]!.bootId);
    }

    // restarted on the same state folder: online again, a new boot id and the next birth sequence
    boxes[1]!.daemon = await startBoxDaemon(boxes[1]!.config);
    const again = await waitFor(async () => {
      const f = await box('box-2');
      return f?.state === 'online' && f.bootId !== first.bootId && health(f)?.cameras[0]?.state === 'recording' ? f : undefined;
    }, { timeoutMs: 60_000, intervalMs: 300, what: 'box-2 online again, its camera recording' });
    expect(again.bdSeq).toBe(first.bdSeq + 1);
    expect(again.sinceUtc).toBeGreaterThan(dead.sinceUtc);
    expect(health(again)!.cameras.map((c) => c.id)).toEqual(['door2']);
    for (const id of ['box-1', 'box-3']) expect((await box(id))!.state).toBe('online');
  }, 120_000);

  it('box-1 frozen (SIGSTOP: its connection stays open): offline by its last will once the keepalive runs out; thawed, online again in the same life', async () => {
    const first = (await box('box-1'))!;
    const frozenAt = Date.now();
    daemon(0).child.signal('SIGSTOP');
    try {
      const dead = await waitFor(async () => {
        const f = await box('box-1');
        return f?.state === 'offline' ? f : undefined;
      }, { timeoutMs: WILL_BOUND_MS + 10_000, intervalMs: 200, what: 'box-1 offline by its last will' });
      const ms = dead.sinceUtc - frozenAt;
      figures.freeze_to_offline_ms = String(ms);
      // the box's last packet came at most one keepalive before the freeze: the will comes 0.5 to 1.5 keepalives after it
      expect(ms).toBeGreaterThanOrEqual(0.5 * KEEPALIVE_S * 1000 - 500);
      expect(ms).toBeLessThanOrEqual(WILL_BOUND_MS);
      for (const id of ['box-2', 'box-3']) expect((await box(id))!.state).toBe('online');
    } finally {
      daemon(0).child.signal('SIGCONT');
    }
    const back = await waitFor(async () => {
      const f = await box('box-1');
      return f?.state === 'online' ? f : undefined;
    }, { timeoutMs: 30_000, intervalMs: 300, what: 'box-1 online again after the freeze' });
    expect(back.bootId).toBe(first.bootId);
    expect(back.bdSeq).toBe(first.bdSeq);
  }, 90_000);

  it("on change: box-3's camera.down alarm reaches the force as soon as it holds, and clears as soon as the camera records again", async () => {
    const down = await waitFor(async () => {
      const f = await box('box-3');
      const alarm = health(f)?.alarms.find((a) => a.kind === CAMERA_DOWN && a.subject === 'till3');
      return alarm && f ? { f, alarm } : undefined;
    }, { timeoutMs: CAMERA_DOWN_AFTER_MS + 60_000, intervalMs: 500, what: "box-3's camera.down alarm at the force" });
    const due = down.alarm.since + CAMERA_DOWN_AFTER_MS;
    const ms = down.f.healthUtc! - due;
    figures.camera_down_due_to_health_at_force_ms = String(ms);
    expect(ms).toBeGreaterThanOrEqual(0);
    expect(ms).toBeLessThanOrEqual(HEALTH_ALARM_WATCH_MS + HEALTH_CHANGE_SETTLE_MS + CHANGE_MARGIN_MS);
    expect(onChangeLines(2).some((l) => l.reasons.includes(`alarm raised: ${CAMERA_DOWN} till3`))).toBe(true);
    for (const id of ['box-1', 'box-2']) expect(health(await box(id))!.alarms.filter((a) => a.kind === CAMERA_DOWN)).toEqual([]);

    // the camera comes back on its port: recording again, and the alarm is gone, both at once
    const backAt = Date.now();
    await boxes[2]!.camera.restart();
    const clear = await waitFor(async () => {
      const f = await box('box-3');
      const h = health(f);
      return f && h?.cameras[0]?.state === 'recording' && !h.alarms.some((a) => a.kind === CAMERA_DOWN) ? f : undefined;
    }, { timeoutMs: 60_000, intervalMs: 300, what: "box-3's camera recording again, its alarm cleared" });
    figures.camera_back_to_health_at_force_ms = String(clear.healthUtc! - backAt);
    expect(clear.healthUtc! - backAt).toBeLessThan(30_000);
    // every document since the connect was sent on change: the interval has not come round
    const connectedAt = Math.min(...jsonLines(daemon(2).lines).filter((l) => l.msg === 'mqtt connected').map((l) => Date.parse(String(l.time))));
    expect(clear.healthUtc! - connectedAt).toBeLessThan(HEALTH_INTERVAL_S * 1000);
    expect(box3Connects()).toBe(1);
    // bounded: a handful of documents on change, never two within HEALTH_CHANGE_MIN_GAP_MS
    const lines = onChangeLines(2);
    // when each was started (the line is logged once it is sent, and building one can take a second or more)
    const sent = lines.map((l) => Date.parse(l.started));
    figures.box3_documents_on_change = `${sent.length}: ${lines.map((l) => l.reasons.join(' + ')).join('; ')}`;
    expect(sent.length).toBeLessThanOrEqual(12);
    for (let i = 1; i < sent.length; i++) expect(sent[i]! - sent[i - 1]!).toBeGreaterThanOrEqual(HEALTH_CHANGE_MIN_GAP_MS - 20);
  }, CAMERA_DOWN_AFTER_MS + 120_000);
});
