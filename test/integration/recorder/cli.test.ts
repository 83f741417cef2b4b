import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BufferStatus } from '../../../daemon/src/recorder/status.js';
import { runCli, runCliOnTerminal, writeConfig } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/paths.js';
import { recorderConfigOverrides } from '../../helpers/recorder.js';
import { startCamera } from '../../helpers/rtsp-camera.js';

describe('camera and buffer commands', () => {
  it('have --help and exit 2 on usage errors', async () => {
    for (const cmd of [['camera'], ['camera', 'add'], ['camera', 'list'], ['camera', 'update'], ['camera', 'remove'], ['camera', 'test'], ['camera', 'snapshot'], ['buffer'], ['buffer', 'status'], ['buffer', 'lock'], ['buffer', 'unlock']]) {
      const r = await runCli([...cmd, '--help']);
      expect(r.code, cmd.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/Usage: hindsight/);
    }
    const dir = tempDir();
    const config = writeConfig(dir, recorderConfigOverrides());
    expect((await runCli(['camera', 'add', '--config', config, '--id', 'x', '--name', 'X'])).code).toBe(2); // no --url
    expect((await runCli(['camera', 'add', '--config', config, '--id', 'x', '--name', 'X', '--url', 'rtsp://127.0.0.1/x', '--password-stdin'], { input: 'p' })).code).toBe(2);
    expect((await runCli(['camera', 'test', '--config', config])).code).toBe(2);
    const lock = (...args: string[]) => runCli(['buffer', 'lock', '--config', config, '--holder', 'h', ...args]);
    const reason = ['--reason', 'police asked for the door view'];
    expect((await lock('--camera', 'x', '--from', 'yesterday', '--to', 'now', ...reason)).code).toBe(2);
    expect((await lock('--camera', 'x', '--from', 'now', '--to', 'now-1m', ...reason)).code).toBe(2);
    // a lock needs a reason, a registered camera and a bounded range (buffer.max_lock_days)
    expect((await lock('--camera', 'x', '--from', 'now-1m', '--to', 'now')).code).toBe(2);
    const short = await lock('--camera', 'x', '--from', 'now-1m', '--to', 'now', '--reason', 'because');
    expect([short.code, short.stderr]).toEqual([2, expect.stringMatching(/a lock needs a reason of at least 10 characters/)]);
    const unknown = await lock('--camera', 'x', '--from', 'now-1m', '--to', 'now', ...reason);
    expect([unknown.code, unknown.stderr]).toEqual([2, expect.stringMatching(/there is no camera x\n {2}what to do: `hindsight camera list`/)]);
    const long = await lock('--camera', 'x', '--from', 'now-40d', '--to', 'now', ...reason);
    expect([long.code, long.stderr]).toEqual([2, expect.stringMatching(/at most 31 days \(buffer.max_lock_days\)/)]);
    const ahead = await lock('--camera', 'x', '--from', 'now', '--to', 'now+40d', ...reason);
    expect([ahead.code, ahead.stderr]).toEqual([2, expect.stringMatching(/at most 31 days/)]);
    // a camera user without a password is refused, not stored with an empty one
    const noPass = await runCli(['camera', 'add', '--config', config, '--id', 'x', '--name', 'X', '--url', 'rtsp://127.0.0.1/x', '--username', 'admin']);
    expect([noPass.code, noPass.stderr]).toEqual([2, expect.stringMatching(/--username admin needs a password/)]);
    const emptyPass = await runCli(['camera', 'add', '--config', config, '--id', 'x', '--name', 'X', '--url', 'rtsp://127.0.0.1/x', '--username', 'admin', '--password-stdin'], { input: '\n' });
    expect([emptyPass.code, emptyPass.stderr]).toEqual([2, expect.stringMatching(/the password for admin is empty/)]);
    // --password-stdin on a terminal asks, and what is typed is not echoed
    const typed = await runCliOnTerminal(
      ['camera', 'add', '--config', config, '--id', 'door', '--name', 'Door', '--url', 'rtsp://127.0.0.1:554/door', '--username', 'admin', '--password-stdin'],
      [{ prompt: 'password for admin: ', type: 'typed-on-the-keyboard\r' }],
    );
    expect(typed.code, typed.screen).toBe(0);
    expect(typed.screen).toMatch(/password for admin: \r?\n/);
    expect(typed.screen).not.toContain('typed-on-the-keyboard');
    expect(JSON.parse((await runCli(['camera', 'list', '--json', '--config', config])).stdout)).toEqual([expect.objectContaining({ id: 'door', hasCredentials: true })]);
  });

  it('camera test reads a 15 fps camera with audio and B-frames as 15 fps, says the audio is not recorded, and finds nothing that stops recording', async () => {
    const dir = tempDir();
    const camera = await startCamera({ width: 640, height: 360, fps: 15, gop: 15, bframes: 2, audio: true });
    const config = writeConfig(dir, recorderConfigOverrides());
    const tested = await runCli(['camera', 'test', '--url', camera.url, '--seconds', '4', '--config', config]);
    expect(tested.code, tested.stdout + tested.stderr).toBe(0);
    expect(tested.stdout).toMatch(/: ok\n/);
    // a live test camera on a busy machine reads 14.9 or 15.1 at times (its timestamps, not the rounding); a
    // B-frame stream read in arrival order would read far off
    const fps = Number(/fps {9}(\d+\.\d)\n/.exec(tested.stdout)?.[1]);
    expect(Math.abs(fps - 15), tested.stdout).toBeLessThanOrEqual(0.2);
    expect(tested.stdout).toMatch(/audio {7}present \(\w+\), not recorded/);
    expect(tested.stdout).not.toMatch(/problem:/);
    const json = JSON.parse((await runCli(['camera', 'test', '--url', camera.url, '--seconds', '4', '--json', '--config', config])).stdout) as { ok: boolean; stream: { fps: number; audio: string | null; problems: string[] } };
    expect(json).toMatchObject({ ok: true, stream: { audio: expect.any(String), problems: [] } });
    expect(json.stream.fps).toBeCloseTo(15, 0);
  });

  it('test, snapshot, lock, unlock and status against a real camera', async () => {
    const dir = tempDir();
    const camera = await startCamera({ width: 320, height: 240, fps: 10, gop: 10 });
    const config = writeConfig(dir, recorderConfigOverrides());
    const cli = (...args: string[]) => runCli([...args, '--config', config]);
    const added = await cli('camera', 'add', '--id', 'till1', '--name', 'Till 1', '--url', camera.url, '--zone', 'tills');
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(/the daemon is not running: the camera is stored and will be recorded once the daemon runs/);
    const auditRows = async () => (await runCli(['audit', 'export', '--config', config])).stdout.trim().split('\n').length;
    const before = await auditRows();
    const same = await cli('camera', 'update', 'till1', '--name', 'Till 1');
    expect([same.code, same.stderr]).toEqual([2, expect.stringMatching(/nothing to change: camera till1 already has these settings/)]);
    expect(await auditRows()).toBe(before);
    const list = JSON.parse((await cli('camera', 'list', '--json')).stdout) as { id: string; zone: string }[];
    expect(list).toEqual([expect.objectContaining({ id: 'till1', zone: 'tills', url: camera.url, hasCredentials: false })]);

    const tested = await cli('camera', 'test', 'till1', '--seconds', '3');
    expect(tested.code, tested.stderr).toBe(0);
    expect(tested.stdout).toMatch(/camera till1: ok\n {2}codec {7}h264/);
    expect(tested.stdout).toMatch(/resolution {2}320x240/);
    expect(tested.stdout).toMatch(/fps {9}(9\.\d|10\.\d)/);
    expect(tested.stdout).toMatch(/keyframes {3}every 1\.0 s/);
    expect(tested.stdout).toMatch(/audio {7}none/);
    expect(tested.stdout).not.toMatch(/problem:/);
    const adhoc = await cli('camera', 'test', '--url', 'rtsp://127.0.0.1:1/none');
    expect(adhoc.code).toBe(1);
    expect(adhoc.stdout).toMatch(/refused the connection/);

    const jpeg = path.join(dir, 'view.jpg');
    const snap = await cli('camera', 'snapshot', 'till1', '--out', jpeg, '--reason', 'check the view after moving the camera');
    expect(snap.code, snap.stderr).toBe(0);
    expect(readFileSync(jpeg).subarray(0, 2).toString('hex')).toBe('ffd8');

    expect((await cli('buffer', 'lock', '--camera', 'till1', '--from', 'now-10m', '--to', 'now+5m', '--holder', 'INC-42', '--reason', 'police asked to keep the till view')).code).toBe(0);
    const status = JSON.parse((await cli('buffer', 'status', '--json')).stdout) as BufferStatus;
    expect(status.daemonReporting).toBe(false);
    expect(status.locks).toEqual([expect.objectContaining({ holder: 'INC-42', cameraId: 'till1' })]);
    expect(status.locks[0]!.toUtcMs - status.locks[0]!.fromUtcMs).toBe(15 * 60_000);
    expect(status.cameras).toEqual([expect.objectContaining({ cameraId: 'till1', state: 'unknown', heldLocks: 1, segments: 0 })]);
    const text = await cli('buffer', 'status');
    expect(text.stdout).toMatch(/no daemon is reporting/);
    expect(text.stdout).toMatch(/lock \w+: till1 .* held by INC-42/);
    expect((await cli('buffer', 'unlock', '--holder', 'INC-42')).stdout).toMatch(/released 1 lock/);
    expect((await cli('buffer', 'unlock', '--holder', 'INC-42')).code).toBe(1);

    const audit = (await runCli(['audit', 'export', '--config', config])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { action: string; justification: string | null; result: string });
    expect(audit.map((a) => `${a.action}:${a.result}`)).toEqual(['camera.added:ok', 'camera.tested:ok', 'camera.tested:error', 'camera.snapshot:ok', 'buffer.locked:ok', 'buffer.unlocked:ok']);
    expect(audit.find((a) => a.action === 'camera.snapshot')!.justification).toBe('check the view after moving the camera');
  });
});
