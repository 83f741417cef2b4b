#!/usr/bin/env node
// `npm run demo`: everything on one machine with an embedded default configuration — an RTSP test
// camera, a private Mosquitto with TLS and the generated ACL, a force receiver, and the Hindsight daemon
// enrolled with that force. State lives in .state/demo/
// (delete it to start over). Stops everything on Ctrl-C. `--seconds N` stops after N seconds.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => path.join(ROOT, 'daemon', 'dist', p);
const { startCamera } = await import(dist('devkit/camera.js'));
const { startForceKit, enrollBox } = await import(dist('devkit/force.js'));
const { ManagedProcess, stopAllManaged } = await import(dist('devkit/process.js'));
const { runCommand } = await import(dist('util/child.js'));

const argv = process.argv.slice(2);
const secondsArg = argv.indexOf('--seconds');
const seconds = secondsArg >= 0 ? Number(argv[secondsArg + 1]) : 0;

const stateRoot = path.join(ROOT, '.state', 'demo');
mkdirSync(stateRoot, { recursive: true });
const say = (m) => process.stdout.write(`demo: ${m}\n`);

say('starting the RTSP test camera (1280x720, 10 fps, live test pattern)');
const camera = await startCamera({ width: 1280, height: 720, fps: 10, bitrateKbps: 1500, gop: 20 });
say(`camera at ${camera.url}`);

say('starting a private Mosquitto with TLS and the ACL generated from the protocol, and a force installation');
const kit = await startForceKit(path.join(stateRoot), { devices: [{ id: 'demo-box', store: 'Demo Store' }] });
const broker = kit.broker;
say(`broker at ${broker.url}; force installation in ${path.relative(ROOT, kit.forceDir)}`);
const receiver = new ManagedProcess(process.execPath, [dist('cli/main.js'), 'force', 'receive', '--config', kit.forceConfig]);
receiver.child.proc.stdout.on('data', (d) => process.stdout.write(`[force] ${d}`));
await receiver.waitForLine(/receiving evidence/, 60_000);

const configFile = path.join(stateRoot, 'config.yaml');
writeFileSync(
  configFile,
  [
    '# written by scripts/demo.mjs',
    'device: {id: demo-box, store: "Demo Store"}',
    `paths: {state_dir: ${JSON.stringify(path.join(stateRoot, 'box'))}}`,
    'log: {level: info, pretty: true}',
    '# the test camera runs on this machine, so loopback is a camera network here',
    'cameras: {networks: [127.0.0.0/8]}',
    '',
  ].join('\n'),
);
enrollBox(configFile, kit.bundle('demo-box'), kit.forceDir);
say('the demo box is enrolled with the force (device key created, registered)');
// Register the test camera the way an installer would (its port changes each run, so update it when known).
const hindsight = (...args) => runCommand(process.execPath, [dist('cli/main.js'), ...args, '--config', configFile], { timeoutMs: 60_000 });
const known = JSON.parse((await hindsight('camera', 'list', '--json')).stdout.toString() || '[]').some((c) => c.id === 'demo-cam');
const registered = known
  ? await hindsight('camera', 'update', 'demo-cam', '--url', camera.url)
  : await hindsight('camera', 'add', '--id', 'demo-cam', '--name', 'Demo camera', '--url', camera.url, '--zone', 'shop floor');
if (registered.code !== 0) throw new Error(`could not register the demo camera: ${registered.stderr}`);
say(`camera registered as demo-cam; \`node daemon/dist/cli/main.js buffer status --config ${path.relative(ROOT, configFile)}\` shows the buffer`);
say(`starting the daemon with ${path.relative(ROOT, configFile)}`);
const daemon = new ManagedProcess(process.execPath, [dist('cli/main.js'), 'run', '--config', configFile]);
daemon.child.proc.stdout.on('data', (d) => process.stdout.write(d));
daemon.child.proc.stderr.on('data', (d) => process.stderr.write(d));
await daemon.waitForLine(/hindsight running/, 60_000);
await daemon.waitForLine(/camera demo-cam: recording/, 60_000);
say('running and recording the test camera. Press Ctrl-C to stop.');
say(`send a sample evidence package: node daemon/dist/cli/main.js evidence seal --from <folder with crops/<subject>/*.jpg> --config ${path.relative(ROOT, configFile)}`);
say(`what the force received: node daemon/dist/cli/main.js force incidents --config ${path.relative(ROOT, kit.forceConfig)}`);

let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  say('stopping');
  await daemon.stop(5000);
  await stopAllManaged();
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
void daemon.child.exited.then((e) => {
  if (!stopping) {
    say(`the daemon exited (${e.code ?? e.signal}); see the log above`);
    void stop(1);
  }
});
if (seconds > 0) setTimeout(() => void stop(0), seconds * 1000);
void broker;
void receiver;
void camera;
