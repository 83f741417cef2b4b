// Daemon start-up time and its own CPU/RSS while idle (no cameras).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { round, sampleUsage } from './_measure.mjs';

export async function run({ root, log }) {
  const { ManagedProcess } = await import(path.join(root, 'daemon/dist/devkit/process.js'));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-bench-idle-'));
  try {
    const config = path.join(dir, 'config.yaml');
    writeFileSync(config, `version: 1\ndevice: {id: bench-box}\npaths: {state_dir: ${dir}/state}\nlog: {level: info, pretty: false}\nweb: {host: 127.0.0.1, port: 0}\n`);
    const t0 = performance.now();
    const daemon = new ManagedProcess(process.execPath, [path.join(root, 'daemon/dist/cli/main.js'), 'run', '--config', config]);
    await daemon.waitForLine(/"msg":"hindsight running"/, 60_000);
    const startMs = performance.now() - t0;
    log(`started in ${round(startMs, 0)} ms; sampling idle usage for 20 s`);
    const usage = await sampleUsage([daemon.pid], 20);
    const u = usage.per_pid[daemon.pid];
    await daemon.stop();
    const summary = { start_ms: round(startMs, 0), idle_cpu_pct_of_core: round(u.cpu_pct_of_core), idle_rss_mb: round(u.rss_mb_mean, 1) };
    return { summary, targets: { idle_cpu_pct_of_core: '<= 1' }, ratios: { idle_cpu_vs_target: round(u.cpu_pct_of_core / 1) } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
