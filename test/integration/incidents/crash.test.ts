import { chmodSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startDaemon, writeConfig } from '../../helpers/cli.js';
import { addCamera, readDb, waitForFootage, waitForState } from '../../helpers/incidents.js';
import { tempDir } from '../../helpers/paths.js';
import { descendants, isAlive, type TestProcess } from '../../helpers/process.js';
import { recorderConfigOverrides } from '../../helpers/recorder.js';
import { startCamera, type RtspTestCamera } from '../../helpers/rtsp-camera.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * kill -9 of the daemon while it cuts master clips. To catch it mid-cut, the first daemon runs ffmpeg
 * through a wrapper that holds every window cut (concat input) for a minute before running the real
 * ffmpeg; recording goes straight through. The second daemon runs the plain ffmpeg, with a retention
 * policy so short that everything unlocked is deleted at once: the incident's window must survive.
 */
describe('incident extraction survives kill -9 of the daemon', () => {
  let dir: string;
  let stateDir: string;
  let camera: RtspTestCamera;
  let daemon: TestProcess | undefined;

  beforeAll(async () => {
    dir = tempDir();
    stateDir = path.join(dir, 'state');
    camera = await startCamera({ width: 320, height: 240, fps: 10, gop: 10 });
  });

  afterAll(async () => {
    await daemon?.stop();
  });

  it('resumes the cut after restart, makes each clip once, and keeps the window locked throughout', async () => {
    const marker = path.join(dir, 'cut-started');
    const wrapper = path.join(dir, 'slow-ffmpeg.sh');
    writeFileSync(wrapper, `#!/bin/sh\nfor a in "$@"; do if [ "$a" = concat ]; then touch '${marker}'; sleep 60; fi; done\nexec ffmpeg "$@"\n`);
    chmodSync(wrapper, 0o755);

    const overrides = { ...recorderConfigOverrides({ recorder: { segment_seconds: 2 } }), incidents: { wait_for_footage_s: 10 } };
    const slowConfig = writeConfig(dir, { ...overrides, tools: { ffmpeg: wrapper } }, 'slow.yaml');
    await addCamera(slowConfig, 'cam1', camera.url);
    daemon = startDaemon(slowConfig);
    await daemon.waitForLine(/"msg":"hindsight running"/, 60_000);
    await waitForFootage(stateDir, ['cam1'], 50);

    const logged = await runCli(['incident', 'log', '--config', slowConfig, '--json', '--at', '30 seconds ago', '--before', '5', '--after', '5', '--camera', 'cam1', '--reason', 'theft', '--justification', 'took two bottles of whisky']);
    expect(logged.code, logged.stderr).toBe(0);
    const id = (JSON.parse(logged.stdout) as { id: string }).id;
    await waitFor(() => existsSync(marker), { timeoutMs: 30_000, what: 'the cut to start' });
    expect((await waitForState(stateDir, id, ['extracting'])).state).toBe('extracting');

    const pid = daemon.pid;
    const children = descendants(pid);
    await daemon.kill9();
    // the recorder's ffmpeg and the held cut die with the daemon
    await waitFor(() => children.filter((p) => isAlive(p)).every((p) => !isOurFfmpeg(p)), { timeoutMs: 5000, what: 'children to die with the daemon' });

    // Restart with the real ffmpeg and a retention that deletes every unlocked segment older than 36 s.
    const fastConfig = writeConfig(dir, { ...overrides, buffer: { hours: 0.01, retention_interval_s: 1, min_free_gb: 0 } }, 'fast.yaml');
    daemon = startDaemon(fastConfig);
    await daemon.waitForLine(/"msg":"hindsight running"/, 60_000);
    const done = await waitForState(stateDir, id, ['analysing', 'failed'], 90_000);
    expect(done.state, done.failure ?? '').toBe('analysing');
    expect(done.cameras[0]!.coverage).toBe(1);

    // retention has had time to delete the window's footage had it not been locked
    await waitFor(() => Date.now() > done.windowToMs + 40_000, { timeoutMs: 60_000, what: 'the window to age past retention' });
    await waitFor(
      () => {
        const db = readDb(stateDir);
        const oldest = db.prepare("SELECT MIN(start_utc_ms) FROM segments WHERE camera_id = 'cam1' AND end_utc_ms <= ?").pluck().get(done.windowFromMs) as number | null;
        db.close();
        return oldest === null || oldest >= done.windowFromMs - 4000;
      },
      { timeoutMs: 20_000, what: 'retention to delete footage before the window' },
    );
    const db = readDb(stateDir);
    const windowSegments = db.prepare("SELECT count(*) FROM segments WHERE camera_id = 'cam1' AND start_utc_ms < ? AND end_utc_ms > ?").pluck().get(done.windowToMs, done.windowFromMs) as number;
    const receipts = db.prepare("SELECT count(*) FROM audit WHERE action LIKE 'buffer.%delet%'").pluck().get() as number;
    const extracted = db.prepare("SELECT count(*) FROM audit WHERE action = 'evidence.clip_extracted' AND object_ids LIKE '%' || ? || '%'").pluck().get(id) as number;
    const held = db.prepare('SELECT count(*) FROM evidence_locks WHERE holder = ? AND released_utc_ms IS NULL').pluck().get(id) as number;
    db.close();
    expect(windowSegments).toBeGreaterThanOrEqual(5);
    expect(receipts).toBeGreaterThan(0);
    expect(extracted).toBe(1);
    expect(held).toBe(1);
    expect(readdirSync(path.join(stateDir, 'evidence', id, 'master'))).toEqual(['cam1.ts']);
  });
});

function isOurFfmpeg(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('ffmpeg');
  } catch {
    return false;
  }
}
