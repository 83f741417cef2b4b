import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonLines, runCli, startDaemon, writeConfig } from '../../helpers/cli.js';
import { MODELS_DIR, tempDir } from '../../helpers/paths.js';
import { addCamera } from '../../helpers/incidents.js';
import { descendants, isAlive } from '../../helpers/process.js';
import { startCamera } from '../../helpers/rtsp-camera.js';

/** A private copy of the models folder, so a test may break it without touching the checkout. */
function copyModels(dir: string): string {
  const out = path.join(dir, 'models');
  mkdirSync(out, { recursive: true });
  for (const f of readdirSync(MODELS_DIR)) if (f.endsWith('.onnx') || f === 'manifest.json') copyFileSync(path.join(MODELS_DIR, f), path.join(out, f));
  return out;
}

describe('hindsight CLI', () => {
  it('has --help on every command and exits 2 on usage errors', async () => {
    for (const cmd of [[], ['run'], ['config'], ['config', 'check'], ['config', 'schema'], ['doctor'], ['models'], ['models', 'fetch'], ['models', 'verify'], ['audit'], ['audit', 'verify'], ['audit', 'export'], ['version']]) {
      const r = await runCli([...cmd, '--help']);
      expect(r.code, `hindsight ${cmd.join(' ')} --help`).toBe(0);
      expect(r.stdout).toMatch(/Usage: hindsight/);
    }
    expect((await runCli(['no-such-command'])).code).toBe(2);
    expect((await runCli(['run', '--no-such-flag'])).code).toBe(2);
    expect((await runCli(['config', 'check'])).code).toBe(2);
    const v = await runCli(['version']);
    expect(v.stdout).toMatch(/^hindsight \d+\.\d+\.\d+/);
  });

  it('doctor prints every check, names a missing model file and how to fix it, and refuses a tampered one', async () => {
    const dir = tempDir();
    const models = copyModels(dir);
    const config = writeConfig(dir);
    const ok = await runCli(['doctor', '--config', config, '--models-dir', models]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    for (const check of ['node', 'ffmpeg', 'ffprobe', 'model detector', 'model landmarks', 'model embedder', 'onnxruntime', 'state dir', 'disk', 'database']) {
      expect(ok.stdout).toMatch(new RegExp(`^${check}\\s+(ok|warn)\\s`, 'm'));
    }

    rmSync(path.join(models, 'fr_landmark.onnx'));
    const missing = await runCli(['doctor', '--config', config, '--models-dir', models]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/^model landmarks\s+missing\s+.*fr_landmark\.onnx is missing/m);
    expect(missing.stdout).toContain('hindsight models fetch');

    copyFileSync(path.join(MODELS_DIR, 'fr_landmark.onnx'), path.join(models, 'fr_landmark.onnx'));
    const bytes = readFileSync(path.join(models, 'fr_feature.onnx'));
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
    writeFileSync(path.join(models, 'fr_feature.onnx'), bytes);
    const tampered = await runCli(['doctor', '--config', config, '--models-dir', models]);
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toMatch(/^model embedder\s+missing\s+.*fr_feature\.onnx does not match its pinned SHA-256/m);
    const verify = await runCli(['models', 'verify', '--dir', models]);
    expect(verify.code).toBe(1);
    expect(verify.stdout).toMatch(/fr_feature\.onnx TAMPERED/);
  });

  it('models fetch is idempotent and restores a removed file', async () => {
    const dir = tempDir();
    const models = copyModels(dir);
    const again = await runCli(['models', 'fetch', '--dir', models]);
    expect(again.code).toBe(0);
    expect(again.stdout).not.toMatch(/fetched/);
    rmSync(path.join(models, 'fr_detect.onnx'));
    const fetched = await runCli(['models', 'fetch', '--dir', models], { timeoutMs: 300_000 });
    expect(fetched.code, fetched.stderr).toBe(0);
    expect(fetched.stdout).toMatch(/fr_detect\.onnx: fetched, sha256 ok/);
    expect((await runCli(['models', 'verify', '--dir', models])).code).toBe(0);
  });

  it('config check reports an unknown key, a wrong type and a missing value with their paths, exit 2', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, 'device:\n  store: Shop\n  colour: red\nlog:\n  pretty: 7\n');
    const r = await runCli(['config', 'check', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('device.id: is required');
    expect(r.stderr).toMatch(/device\.colour: unknown key/);
    expect(r.stderr).toMatch(/log\.pretty: is not one of the allowed values/);
    const good = await runCli(['config', 'check', writeConfig(dir)]);
    expect(good.code).toBe(0);
  });

  it('run starts, logs one JSON line per service, and exits 0 on SIGTERM within 5 s leaving no child behind', async () => {
    const dir = tempDir();
    // a recording camera, so the daemon has ffmpeg children to stop
    const camera = await startCamera({ width: 320, height: 240, fps: 10, gop: 10 });
    const config = writeConfig(dir, { cameras: { networks: ['127.0.0.0/8'] } });
    await addCamera(config, 'cam1', camera.url);
    const daemon = startDaemon(config);
    await daemon.waitForLine(/"msg":"hindsight running"/, 30_000);
    const lines = jsonLines(daemon.lines);
    const started = lines.filter((l) => l.msg === 'service started').map((l) => l.service);
    expect(started).toEqual(expect.arrayContaining(['store', 'models', 'recorder', 'incidents', 'uplink', 'control']));
    expect(new Set(started).size).toBe(started.length);
    const running = lines.find((l) => l.msg === 'hindsight running') as { services: string[] };
    expect(running.services).toEqual(started);
    await daemon.waitForLine(/camera cam1: recording/, 30_000);
    const children = descendants(daemon.pid);
    expect(children.length).toBeGreaterThan(0);

    const t0 = Date.now();
    daemon.child.signal('SIGTERM');
    const exit = await daemon.child.exited;
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(exit).toEqual({ code: 0, signal: null });
    for (const pid of children) expect(isAlive(pid), `child ${pid} left running`).toBe(false);
    expect(jsonLines(daemon.lines).some((l) => l.msg === 'hindsight stopped')).toBe(true);
  });

  it('a corrupt database stops start-up with a message naming the file', async () => {
    const dir = tempDir();
    const config = writeConfig(dir);
    const db = path.join(dir, 'state', 'hindsight.db');
    mkdirSync(path.dirname(db), { recursive: true });
    writeFileSync(db, Buffer.alloc(8192, 0x41));
    const daemon = startDaemon(config);
    const exit = await daemon.child.exited;
    expect(exit.code).toBe(1);
    expect(daemon.output).toContain(`database ${db} is not readable`);
  });
});
