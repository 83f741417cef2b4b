import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { controlPaths } from '../../../daemon/src/control/paths.js';
import { runCommand } from '../../../daemon/src/util/child.js';
import { sandboxed } from '../../../daemon/src/util/sandbox.js';
import { runCli, startDaemon, writeConfig } from '../../helpers/cli.js';
import { CLI, tempDir } from '../../helpers/paths.js';
import { makeTestVideo } from '../../../daemon/src/devkit/media.js';
import { descendants, TestProcess } from '../../helpers/process.js';
import { recorderConfigOverrides } from '../../helpers/recorder.js';
import { startCamera } from '../../helpers/rtsp-camera.js';
import { waitFor } from '../../helpers/wait.js';

const PASSWORD = 'Sandbox-cam-pw/7';

/** The secrets of a box at the paths the daemon uses (paths.ts, control/paths.ts, uplink/enrollment.ts). */
function boxSecrets(dir: string): Record<string, string> {
  const state = path.join(dir, 'state');
  return {
    'device key': path.join(state, 'keys', 'device.key'),
    'enrollment (broker password)': path.join(state, 'uplink', 'enrollment.json'),
    'camera-credential key': path.join(state, 'camera-credentials.key'),
    'control token': controlPaths(state).token,
    'config (broker password)': path.join(dir, 'config.yaml'),
  };
}

describe('ffmpeg reads cameras in a sandbox that cannot reach the box\'s secrets', () => {
  const cleanups: (() => unknown)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('cat of each secret through the launcher that starts ffmpeg fails; the folder it is given works', async () => {
    const dir = tempDir();
    const secrets = boxSecrets(dir);
    for (const [what, file] of Object.entries(secrets)) {
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, `SECRET of the ${what}\n`, { mode: 0o600 });
    }
    const cameraDir = path.join(dir, 'state', 'buffer', 'till1');
    mkdirSync(cameraDir, { recursive: true });
    writeFileSync(path.join(cameraDir, 'segment.ts'), 'footage\n');

    for (const [what, file] of Object.entries(secrets)) {
      const r = await runCommand(...sandboxed('bwrap', 'cat', [file], { write: [cameraDir] }), { timeoutMs: 10_000 });
      expect(r.code, what).not.toBe(0);
      expect(r.stdout.toString(), what).not.toContain('SECRET');
      expect(r.stderr, what).toMatch(/No such file or directory|Permission denied/);
    }
    // the daemon's own process (its environment and open files) is not visible either
    const environ = await runCommand(...sandboxed('bwrap', 'cat', [`/proc/${process.pid}/environ`], { write: [cameraDir] }), { timeoutMs: 10_000 });
    expect(environ.code).not.toBe(0);
    // the control: what it is given, it reads and writes
    const own = await runCommand(...sandboxed('bwrap', 'sh', ['-c', `cat ${cameraDir}/segment.ts && echo more > ${cameraDir}/next.ts`], { write: [cameraDir] }), { timeoutMs: 10_000 });
    expect([own.code, own.stdout.toString()]).toEqual([0, 'footage\n']);
    expect(readFileSync(path.join(cameraDir, 'next.ts'), 'utf8')).toBe('more\n');
  });

  it('the recording ffmpeg sees its camera folder and nothing secret', async () => {
    const camera = await startCamera({ width: 320, height: 240, fps: 10, gop: 10, user: 'viewer', password: PASSWORD });
    cleanups.push(() => camera.stop());
    const dir = tempDir();
    const config = writeConfig(dir, recorderConfigOverrides());
    const state = path.join(dir, 'state');
    expect((await runCli(['camera', 'add', '--id', 'till1', '--name', 'Till 1', '--url', camera.url, '--username', 'viewer', '--password-stdin', '--config', config], { input: PASSWORD })).code).toBe(0);
    const daemon: TestProcess = startDaemon(config);
    cleanups.push(() => daemon.stop());
    await daemon.waitForLine(/camera till1: recording/, 30_000);
    const ffmpeg = descendants(daemon.pid).find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('ffmpeg'));
    expect(ffmpeg).toBeDefined();
    const seen = (p: string): boolean => existsSync(`/proc/${ffmpeg}/root${p}`);
    // the real secrets exist for the daemon...
    for (const p of [controlPaths(state).token, path.join(state, 'camera-credentials.key'), path.join(state, 'hindsight.db'), config]) {
      expect(existsSync(p), p).toBe(true);
      // ...and not in ffmpeg's view of the files
      expect(seen(p), p).toBe(false);
    }
    expect(seen(`/proc/${daemon.pid}/environ`)).toBe(false);
    expect(seen(path.join(state, 'buffer', 'till1'))).toBe(true);
    const doctor = await runCli(['doctor', '--config', config]);
    expect(doctor.stdout).toMatch(/sandbox.*ffmpeg starts in the bubblewrap sandbox/);
  });

  it('a job given a device (a GPU for hardware decoding) sees that device and /sys read-only; the others see neither', async () => {
    // /dev/kmsg stands in for a render node: a character device outside the sandbox's own minimal /dev
    const look = 'for p in /dev/kmsg /dev/fuse /sys/class; do test -e $p && echo "has $p"; done; touch /sys/x 2>/dev/null && echo "wrote /sys"; true';
    const given = await runCommand(...sandboxed('bwrap', 'sh', ['-c', look], { devices: ['/dev/kmsg'] }), { timeoutMs: 10_000 });
    expect(given.code, given.stderr).toBe(0);
    expect(given.stdout.toString().trim().split('\n')).toEqual(['has /dev/kmsg', 'has /sys/class']);
    const plain = await runCommand(...sandboxed('bwrap', 'sh', ['-c', look], {}), { timeoutMs: 10_000 });
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout.toString().trim()).toBe('');
  });

  it('the decoder of an analysis sees the clip it decodes and nothing secret', async () => {
    const dir = tempDir();
    const config = writeConfig(dir, { vision: { workers: 1 } });
    const state = path.join(dir, 'state');
    mkdirSync(state, { recursive: true });
    writeFileSync(path.join(state, 'camera-credentials.key'), 'SECRET\n', { mode: 0o600 });
    const clip = path.join(dir, 'clip.ts');
    await makeTestVideo(clip, { seconds: 60, width: 1280, height: 720, fps: 25 });
    const analysis = new TestProcess(process.execPath, [CLI, 'analyse', clip, '--out', path.join(dir, 'out'), '--start', '2026-12-01T10:00:00Z', '--config', config]);
    cleanups.push(() => analysis.stop());
    const decoder = await waitFor(
      () => descendants(analysis.pid).find((pid) => {
        try {
          const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
          return cmd.startsWith('ffmpeg') && cmd.includes('rgb24');
        } catch {
          return false;
        }
      }),
      { timeoutMs: 60_000, intervalMs: 50, what: 'the decoding ffmpeg' },
    );
    const seen = (p: string): boolean => existsSync(`/proc/${decoder}/root${p}`);
    expect(seen(clip)).toBe(true);
    for (const p of [config, path.join(state, 'camera-credentials.key'), state]) expect(seen(p), p).toBe(false);
  });
});
