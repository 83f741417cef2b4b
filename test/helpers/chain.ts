import path from 'node:path';
import { enrollBox, startForceKit, type ForceKit, type ForceKitOptions } from '../../daemon/src/devkit/force.js';
import { startDaemon, writeConfig } from './cli.js';
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
  const boxConfig = writeConfig(dir, {
    device: { id: 'box-1', store: 'High Street' },
    ...recorderConfigOverrides({ recorder: { segment_seconds: 2 } }),
    incidents: { wait_for_footage_s: 10 },
    uplink: { receipt_timeout_s: 5, retry_min_ms: 200, retry_max_ms: 2000, ...box.uplink },
  });
  enrollBox(boxConfig, kit.bundle('box-1'), kit.forceDir);
  const camera = await startCamera({ mode: 'file', file: video });
  await addCamera(boxConfig, 'till2', camera.url, ['--zone', 'tills']);
  const receiver = new TestProcess(process.execPath, [CLI, 'force', 'receive', '--config', kit.forceConfig]);
  await receiver.waitForLine(/receiving evidence/, 30_000);
  const daemon = startDaemon(boxConfig);
  await daemon.waitForLine(/"msg":"hindsight running"/, 60_000);
  const chain: Chain = {
    kit,
    boxConfig,
    stateDir: path.join(dir, 'state'),
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
