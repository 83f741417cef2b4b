// A failed incident at rest: a camera goes down, staff log an incident "now" on it, the window has no
// footage, the incident fails and waits for a person. Then, over a real minute, the incident worker's busy
// time (its own counter on the control socket), the daemon's CPU, and the passes and audit rows it made.
// Before the failure semantics were fixed this case spun: thousands of attempts and audit rows a minute.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { round, sampleUsage } from './_measure.mjs';

const SAMPLE_S = 60;

export async function run({ root, log }) {
  const dist = (p) => path.join(root, 'daemon', 'dist', p);
  const { ManagedProcess } = await import(dist('devkit/process.js'));
  const { startCamera } = await import(dist('devkit/camera.js'));
  const { runCommand } = await import(dist('util/child.js'));
  const { controlRequest } = await import(dist('control/client.js'));

  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-bench-failing-'));
  const stateDir = path.join(dir, 'state');
  let daemon;
  let camera;
  try {
    const config = path.join(dir, 'config.yaml');
    writeFileSync(
      config,
      [
        'version: 1',
        'device: {id: bench-box}',
        `paths: {state_dir: ${stateDir}}`,
        'log: {level: info, pretty: false}',
        'cameras: {networks: [127.0.0.0/8]}',
        'recorder: {segment_seconds: 1, rtsp_timeout_s: 2, restart_initial_s: 0.5, restart_max_s: 4}',
        'incidents: {wait_for_footage_s: 3}',
        'buffer: {min_free_gb: 0}',
        'web: {host: 127.0.0.1, port: 0}',
        '',
      ].join('\n'),
    );
    const cli = async (...args) => {
      const r = await runCommand(process.execPath, [dist('cli/main.js'), ...args, '--config', config], { timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`hindsight ${args.join(' ')}: ${r.stderr}`);
      return r.stdout.toString('utf8');
    };
    const sleep = (s) => new Promise((r) => setTimeout(r, s * 1000));

    camera = await startCamera({ width: 320, height: 240, fps: 10, gop: 10 });
    daemon = new ManagedProcess(process.execPath, [dist('cli/main.js'), 'run', '--config', config]);
    await daemon.waitForLine(/"msg":"hindsight running"/, 60_000);
    await cli('camera', 'add', '--id', 'c1', '--name', 'Till 1', '--url', camera.url);
    await daemon.waitForLine(/camera c1: recording/, 60_000);
    await sleep(5);
    log('camera recording; taking it down and logging an incident "now" on it');
    await camera.kill9();
    await daemon.waitForLine(/camera c1: .*(reconnecting|refused)/, 60_000);
    const incident = JSON.parse(await cli('incident', 'log', '--json', '--at', 'now', '--before', '0', '--after', '3', '--camera', 'c1', '--reason', 'theft', '--justification', 'benchmark of a failed incident at rest'));
    const show = async () => JSON.parse(await cli('incident', 'show', incident.id, '--json'));
    const deadline = Date.now() + 120_000;
    let view = await show();
    while (view.state !== 'failed') {
      if (Date.now() > deadline) throw new Error(`incident ${incident.id} did not fail within 120 s (state ${view.state})`);
      await sleep(1);
      view = await show();
    }
    log(`incident failed (${view.failureCode}: ${view.failure}); sampling ${SAMPLE_S} s at rest`);
    const worker = async () => (await controlRequest(stateDir, 'GET', '/v1/incidents-worker')).worker;
    const auditRows = async () => Number(/ok: (\d+) audit rows/.exec(await cli('audit', 'verify'))?.[1] ?? NaN);
    const before = { worker: await worker(), rows: await auditRows(), attempts: view.attempts };
    const t0 = performance.now();
    const usage = (await sampleUsage([daemon.pid], SAMPLE_S)).per_pid[daemon.pid];
    const wallMs = performance.now() - t0;
    const after = { worker: await worker(), rows: await auditRows(), attempts: (await show()).attempts };

    const summary = {
      worker_busy_pct_of_core: round((100 * (after.worker.busyMs - before.worker.busyMs)) / wallMs, 3),
      worker_passes_per_min: round(((after.worker.ticks - before.worker.ticks) * 60_000) / wallMs, 1),
      daemon_cpu_pct_of_core: round(usage.cpu_pct_of_core),
      audit_rows_added: after.rows - before.rows,
      attempts_added: after.attempts - before.attempts,
      attempts: after.attempts,
    };
    return {
      summary,
      targets: { worker_busy_pct_of_core: '< 1', audit_rows_added: '0', attempts_added: '0' },
      ratios: { worker_busy_vs_target: round(summary.worker_busy_pct_of_core / 1, 3) },
      notes:
        'A camera down, an incident on it that failed for want of footage and waits for a person. The daemon CPU includes the ' +
        'recorder retrying the camera that is down; the worker figure is the incident worker alone (its busy-time counter).',
    };
  } finally {
    if (daemon) await daemon.stop(5000);
    await camera?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
