import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import type { BufferStatus } from '../../../daemon/src/recorder/status.js';
import { runCli, startDaemon, writeConfig } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/paths.js';
import { descendants, type TestProcess } from '../../helpers/process.js';
import { recorderConfigOverrides } from '../../helpers/recorder.js';
import { startCamera } from '../../helpers/rtsp-camera.js';
import { waitFor } from '../../helpers/wait.js';

const WRONG = 'Wr0ng-p@ss!word';
const RIGHT = 'R1ght-s3cret/pw';

/** The recording ffmpeg of a camera, found by its buffer folder on its command line. */
function ffmpegFor(daemonPid: number, cameraId: string): number | undefined {
  return descendants(daemonPid).find((pid) => {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return cmd.startsWith('ffmpeg') && cmd.includes('segment_list') && cmd.includes(`/buffer/${cameraId}/`);
    } catch {
      return false;
    }
  });
}

describe('recorder: bad input', () => {
  it('SSRF URLs, a garbage camera and a 401 camera get clear states and messages; the daemon and the other cameras carry on; no credential is ever logged', async () => {
    const dir = tempDir();
    const [good, locked, later, mute] = await Promise.all([
      startCamera({ width: 320, height: 240, fps: 10, gop: 10 }),
      startCamera({ width: 320, height: 240, fps: 10, gop: 10, user: 'alice', password: RIGHT }),
      startCamera({ width: 320, height: 240, fps: 10, gop: 10 }),
      startCamera({ mode: 'audio' }),
    ]);
    const garbage = net.createServer((s) => {
      const t = setInterval(() => s.write(randomBytes(1024)), 50);
      s.on('error', () => undefined).on('close', () => clearInterval(t));
    });
    await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', r));
    const garbagePort = (garbage.address() as net.AddressInfo).port;
    const config = writeConfig(dir, recorderConfigOverrides());
    const cli = (args: string[], input?: string) => runCli([...args, '--config', config], { input });
    const status = async (): Promise<BufferStatus> => JSON.parse((await cli(['buffer', 'status', '--json'])).stdout) as BufferStatus;
    const cam = async (id: string) => (await status()).cameras.find((c) => c.cameraId === id);

    expect((await cli(['camera', 'add', '--id', 'good', '--name', 'Good', '--url', good.url])).code).toBe(0);
    expect((await cli(['camera', 'add', '--id', 'auth', '--name', 'Auth', '--url', locked.url, '--username', 'alice', '--password-stdin'], `${WRONG}\n`)).code).toBe(0);
    expect((await cli(['camera', 'add', '--id', 'junk', '--name', 'Junk', '--url', `rtsp://127.0.0.1:${garbagePort}/stream`])).code).toBe(0);
    expect((await cli(['camera', 'add', '--id', 'mute', '--name', 'Audio only', '--url', mute.url])).code).toBe(0);
    const daemon: TestProcess = startDaemon(config);
    afterAll(async () => {
      await daemon.stop();
      garbage.close();
    });
    await daemon.waitForLine(/camera good: recording/, 30_000);
    const goodFfmpeg = ffmpegFor(daemon.pid, 'good');
    expect(goodFfmpeg).toBeDefined();

    const auth = await waitFor(async () => ((await cam('auth'))?.state === 'failed' ? cam('auth') : undefined), { timeoutMs: 30_000, what: 'the 401 camera to fail' });
    expect(auth!.reason).toBe('the camera refused the username or password (RTSP 401)');
    const junk = await waitFor(async () => {
      const c = await cam('junk');
      return c?.state === 'failed' && /not a working RTSP camera stream/.test(c.reason ?? '') ? c : undefined;
    }, { timeoutMs: 40_000, what: 'the garbage camera to fail with a reason' });
    expect(junk.spawns, 'no ffmpeg is started against something that does not speak RTSP').toBe(0);
    const muted = await waitFor(async () => ((await cam('mute'))?.state === 'failed' ? cam('mute') : undefined), { timeoutMs: 30_000, what: 'the audio-only camera to fail' });
    expect(muted.reason).toBe('the stream has no video track');
    const muteTest = await cli(['camera', 'test', 'mute']);
    expect(muteTest.code).toBe(1);
    expect(muteTest.stdout).toMatch(/camera mute: the stream has no video track\n {2}what to do: choose the camera's video stream path/);
    const tested = await cli(['camera', 'test', 'auth']);
    expect(tested.code).toBe(1);
    expect(tested.stdout).toMatch(/camera auth: the camera refused the username or password \(RTSP 401\)\n {2}what to do: check the credentials/);
    const junkTest = await cli(['camera', 'test', 'junk']);
    expect(junkTest.code).toBe(1);
    expect(junkTest.stdout).toMatch(/not a working RTSP camera stream/);

    // every SSRF/URL case from SECURITY.md, while the daemon runs: refused with what to do, nothing stored
    const badUrls = [
      'file:///etc/passwd',
      'http://127.0.0.1:80/',
      `rtsp://alice:${RIGHT}@127.0.0.1:${good.port}/stream`,
      `rtsp://127.0.0.1:${good.port}@10.9.9.9/stream`,
      'rtsp://169.254.169.254/latest/meta-data',
      'rtsp://[::1]:554/stream',
      'rtsp://[::ffff:127.0.0.1]:554/stream',
      'rtsp://2130706433:554/stream',
      'rtsp://0177.0.0.1:554/stream',
      'rtsp://0x7f.0.0.1:554/stream',
      'rtsp://127.0.0.1:554/st\u0001ream',
      `rtsp://127.0.0.1:554/${'x'.repeat(2000)}`,
      'rtsp://8.8.8.8/stream',
    ];
    for (const url of badUrls) {
      const r = await cli(['camera', 'add', '--id', 'evil', '--name', 'Evil', '--url', url]);
      expect(r.code, url).toBe(2);
      expect(r.stderr, url).toMatch(/^error: .+\n {2}what to do: .+/);
    }
    expect((await cli(['camera', 'list', '--json'])).stdout).not.toContain('evil');
    expect(daemon.child.running).toBe(true);
    expect(ffmpegFor(daemon.pid, 'good'), 'the good camera was never restarted').toBe(goodFfmpeg);

    // fixing the password restarts only that camera; adding and removing cameras touch only those
    expect((await cli(['camera', 'update', 'auth', '--username', 'alice', '--password-stdin'], RIGHT)).code).toBe(0);
    await daemon.waitForLine(/camera auth: recording/, 30_000);
    expect((await cli(['camera', 'add', '--id', 'later', '--name', 'Later', '--url', later.url, '--transport', 'udp'])).code).toBe(0);
    await daemon.waitForLine(/camera later: recording/, 30_000);
    expect((await cli(['camera', 'remove', 'junk'])).code).toBe(0);
    await daemon.waitForLine(/camera junk: stopping its recorder \(camera removed\)/, 10_000);
    expect(ffmpegFor(daemon.pid, 'good'), 'the good camera was never restarted').toBe(goodFfmpeg);
    const final = await status();
    expect(final.cameras.find((c) => c.cameraId === 'good')!.state).toBe('recording');
    expect(final.cameras.find((c) => c.cameraId === 'auth')!.state).toBe('recording');
    expect(final.cameras.find((c) => c.cameraId === 'junk'), 'a removed camera without footage is gone').toBeUndefined();
    expect(daemon.child.running).toBe(true);

    daemon.child.signal('SIGTERM');
    await daemon.child.exited;
    const everything = daemon.output + JSON.stringify(final) + (await cli(['camera', 'list', '--json'])).stdout;
    for (const secret of [WRONG, RIGHT, encodeURIComponent(WRONG), encodeURIComponent(RIGHT), 'Wr0ng', 'R1ght']) expect(everything, `"${secret}" leaked`).not.toContain(secret);
    expect(daemon.output).toMatch(/camera auth: the camera refused the username or password/);
  });
});
