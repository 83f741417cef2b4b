import path from 'node:path';
import { enrollBox, startForceKit, type ForceKit, type ForceKitOptions } from '../../daemon/src/devkit/force.js';
import { runCli, startDaemon, writeConfig } from './cli.js';
import { makeTestVideo } from './media.js';
import { addCamera } from './incidents.js';
import { CLI } from './paths.js';
import { TestProcess } from './process.js';
import { recorderConfigOverrides } from './recorder.js';
import { startCamera, type RtspTestCamera } from './rtsp-camera.js';

/** The whole chain on one machine: a force (broker with TLS and ACL, receiver), and a box enrolled with it recording one camera. */
export interface Chain {
  kit: ForceKit;
  boxConfig: string;
  stateDir: string;
  camera: RtspTestCamera;
  receiver: TestProcess;
  daemon: TestProcess;
  stop(): Promise<void>;
}

/**
 * Start the chain in `dir`: the force kit, box-1 of "High Street" enrolled, the test camera serving
 * `video` as camera till2 (zone tills), the force receiver, then the box daemon (2 s segments, quick
 * uplink retries). Each part waits until it says it runs.
 */
export async function startChain(dir: string, video: string, box: { uplink?: Record<string, unknown>; kit?: Pick<ForceKitOptions, 'forceUsers'> } = {}): Promise<Chain> {
  const kit = await startForceKit(dir, { devices: [{ id: 'box-1', store: 'High Street' }], ...box.kit });
  const { config: boxConfig, stateDir, camera } = await prepareBox(kit, dir, { deviceId: 'box-1', store: 'High Street', cameraId: 'till2', zone: 'tills', video, uplink: box.uplink });
  const receiver = await startReceiver(kit);
  const daemon = await startBoxDaemon(boxConfig);
  const chain: Chain = {
    kit,
    boxConfig,
    stateDir,
    camera,
    receiver,
    daemon,
    // the daemon a test may have restarted (chain.daemon) is the one stopped
    stop: async () => {
      await chain.daemon.stop();
      await receiver.stop();
      await camera.stop();
      await kit.broker.stop();
    },
  };
  return chain;
}

/** One box of a chain, ready to run: its config (state folder beside it), enrolled with the kit's force, and its test camera added. */
export interface PreparedBox {
  deviceId: string;
  config: string;
  stateDir: string;
  cameraId: string;
  camera: RtspTestCamera;
}

/**
 * Prepare box `deviceId` (enrolled in `kit` already) in `dir`: its config (2 s segments, quick uplink
 * retries, `uplink` over them), its enrollment installed and its key registered at the force, and a test
 * camera serving `video` added as `cameraId` in `zone`.
 */
export async function prepareBox(kit: ForceKit, dir: string, o: { deviceId: string; store: string; cameraId: string; zone: string; video: string; uplink?: Record<string, unknown> }): Promise<PreparedBox> {
  const config = writeConfig(dir, {
    device: { id: o.deviceId, store: o.store },
    ...recorderConfigOverrides({ recorder: { segment_seconds: 2 } }),
    incidents: { wait_for_footage_s: 10 },
    uplink: { receipt_timeout_s: 5, retry_min_ms: 200, retry_max_ms: 2000, ...o.uplink },
  });
  enrollBox(config, kit.bundle(o.deviceId), kit.forceDir);
  const camera = await startCamera({ mode: 'file', file: o.video });
  await addCamera(config, o.cameraId, camera.url, ['--zone', o.zone]);
  return { deviceId: o.deviceId, config, stateDir: path.join(dir, 'state'), cameraId: o.cameraId, camera };
}

/** The force receiver of `kit`, once it says it receives. */
export async function startReceiver(kit: ForceKit): Promise<TestProcess> {
  const receiver = new TestProcess(process.execPath, [CLI, 'force', 'receive', '--config', kit.forceConfig]);
  await receiver.waitForLine(/receiving evidence/, 30_000);
  return receiver;
}

/** `hindsight run` on a box's config, once it says it runs. */
export async function startBoxDaemon(config: string): Promise<TestProcess> {
  const daemon = startDaemon(config);
  await daemon.waitForLine(/"msg":"hindsight running"/, 60_000);
  return daemon;
}

/** One box's line of `fleet list --json` at the chain's force (its audit-head check included). */
export interface FleetLine {
  deviceId: string;
  audit: { status: string; count: number; alarm: string | null } | null;
}

export async function fleetLine(kit: ForceKit, deviceId = 'box-1'): Promise<FleetLine> {
  const r = await runCli(['force', 'fleet', 'list', '--json', '--config', kit.forceConfig]);
  if (r.code !== 0) throw new Error(`fleet list failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as FleetLine[]).find((l) => l.deviceId === deviceId)!;
}

/** A chain whose box sends its audit head every 5 s, over a 60 s test video made in `dir`. */
export async function startHeadsChain(dir: string): Promise<Chain> {
  const video = await makeTestVideo(path.join(dir, 'cam.ts'), { seconds: 60, width: 320, height: 240, fps: 10 });
  return startChain(dir, video, { uplink: { audit_head_interval_s: 5 } });
}
