import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { onRtspRequests } from '../../helpers/fake-rtsp.js';
import { afterAll, describe, expect, it } from 'vitest';
import { RtspRelay } from '../../../daemon/src/cameras/rtsp-relay.js';
import type { BufferStatus } from '../../../daemon/src/recorder/status.js';
import { runCommand } from '../../../daemon/src/util/child.js';
import { runCli, startDaemon, writeConfig } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/paths.js';
import { descendants, type TestProcess } from '../../helpers/process.js';
import { recorderConfigOverrides } from '../../helpers/recorder.js';
import { startCamera } from '../../helpers/rtsp-camera.js';
import { waitFor } from '../../helpers/wait.js';

const PASSWORD = 'Cam-s3cret:pw/42';

/** A host that logs every connection and every byte sent to it. */
async function listener(host: string): Promise<{ port: number; heard: string[]; close: () => void }> {
  const heard: string[] = [];
  const server = net.createServer((s) => {
    heard.push('(connection)');
    s.on('data', (d) => heard.push(d.toString('latin1')));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  return { port: (server.address() as net.AddressInfo).port, heard, close: () => server.close() };
}

/** A camera that asks for credentials, then answers DESCRIBE with a redirect to `location`. */
async function redirectingCamera(location: string): Promise<{ port: number; requests: string[]; close: () => void }> {
  const requests: string[] = [];
  const server = net.createServer((s) => {
    onRtspRequests(s, (head, cseq) => {
      requests.push(head);
      const method = head.split(' ')[0];
      if (method === 'OPTIONS') s.write(`RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n\r\n`);
      else if (!/^Authorization:/im.test(head)) s.write(`RTSP/1.0 401 Unauthorized\r\nCSeq: ${cseq}\r\nWWW-Authenticate: Basic realm="cam"\r\n\r\n`);
      else s.write(`RTSP/1.0 302 Moved Temporarily\r\nCSeq: ${cseq}\r\nLocation: ${location}\r\n\r\n`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, requests, close: () => server.close() };
}

describe('cameras are read through the relay: no credential in argv, no redirect, no other user', () => {
  const cleanups: (() => unknown)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('a camera that redirects elsewhere is refused with that reason; the host it names hears nothing', async () => {
    const evil = await listener('127.0.0.2');
    const cam = await redirectingCamera(`rtsp://127.0.0.2:${evil.port}/stream`);
    cleanups.push(evil.close, cam.close);
    const dir = tempDir();
    const config = writeConfig(dir, recorderConfigOverrides({ cameras: { networks: ['127.0.0.1/32'] } }));
    const cli = (args: string[], input?: string) => runCli([...args, '--config', config], { input });
    const url = `rtsp://127.0.0.1:${cam.port}/stream`;
    expect((await cli(['camera', 'add', '--id', 'door', '--name', 'Door', '--url', url, '--username', 'viewer', '--password-stdin'], PASSWORD)).code).toBe(0);

    const tested = await cli(['camera', 'test', 'door']);
    expect([tested.code, tested.stdout]).toEqual([1, expect.stringMatching(/camera door: the camera redirected to rtsp:\/\/127\.0\.0\.2:\d+\/stream; the box refuses redirects[\s\S]*what to do: set the camera URL/)]);
    // the relay did answer the camera's challenge, so the redirect came after the credentials were checked
    expect(cam.requests.some((r) => /^DESCRIBE [\s\S]*Authorization: Basic /m.test(r))).toBe(true);

    const daemon: TestProcess = startDaemon(config);
    cleanups.push(() => daemon.stop());
    await daemon.waitForLine(/"msg":"hindsight running"/, 60_000);
    const state = await waitFor(
      async () => {
        const s = JSON.parse((await cli(['buffer', 'status', '--json'])).stdout) as BufferStatus;
        const c = s.cameras.find((x) => x.cameraId === 'door');
        return c?.state === 'failed' ? c : undefined;
      },
      { timeoutMs: 30_000, what: 'the redirecting camera to fail' },
    );
    expect(state.reason).toMatch(/redirected to rtsp:\/\/127\.0\.0\.2:\d+\/stream; the box refuses redirects/);
    expect(evil.heard, 'the redirect target was contacted').toEqual([]);
    expect(daemon.child.running).toBe(true);
  });

  it('Basic and Digest cameras record through the relay, and no credential is in any child\'s argv or environment', async () => {
    const [basic, digest] = await Promise.all([
      startCamera({ width: 320, height: 240, fps: 10, gop: 10, user: 'viewer', password: PASSWORD, auth: 'basic' }),
      startCamera({ width: 320, height: 240, fps: 10, gop: 10, user: 'viewer', password: PASSWORD, auth: 'digest' }),
    ]);
    cleanups.push(() => basic.stop(), () => digest.stop());
    const dir = tempDir();
    const config = writeConfig(dir, recorderConfigOverrides());
    const cli = (args: string[], input?: string) => runCli([...args, '--config', config], { input });
    for (const [id, cam] of [['basic', basic], ['digest', digest]] as const) {
      expect((await cli(['camera', 'add', '--id', id, '--name', id, '--url', cam.url, '--username', 'viewer', '--password-stdin'], PASSWORD)).code).toBe(0);
    }
    const tested = await cli(['camera', 'test', 'digest', '--seconds', '2']);
    expect([tested.code, tested.stdout]).toEqual([0, expect.stringMatching(/camera digest: ok/)]);

    const daemon: TestProcess = startDaemon(config);
    cleanups.push(() => daemon.stop());
    await daemon.waitForLine(/camera basic: recording/, 30_000);
    await daemon.waitForLine(/camera digest: recording/, 30_000);
    const children = descendants(daemon.pid);
    const ffmpegs = children.filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('ffmpeg'));
    expect(ffmpegs.length).toBeGreaterThanOrEqual(2);
    for (const pid of children) {
      const seen = readFileSync(`/proc/${pid}/cmdline`, 'latin1') + readFileSync(`/proc/${pid}/environ`, 'latin1');
      for (const secret of [PASSWORD, encodeURIComponent(PASSWORD), Buffer.from(`viewer:${PASSWORD}`).toString('base64')]) expect(seen, `pid ${pid}`).not.toContain(secret);
      // and no child is pointed at the camera itself: only at the relay on loopback
      expect(seen).not.toContain(`:${basic.port}/`);
      expect(seen).not.toContain(`:${digest.port}/`);
    }
  });

  it.runIf(process.getuid?.() === 0)('serves one connection, from the user it was opened for: another local user gets nothing', async () => {
    const cam = await startCamera({ width: 320, height: 240, fps: 10, gop: 10, user: 'viewer', password: PASSWORD });
    cleanups.push(() => cam.stop());
    const relay = await RtspRelay.open({ address: '127.0.0.1', port: cam.port, credentials: { username: 'viewer', password: PASSWORD } }, '/stream');
    cleanups.push(() => relay.close());
    const port = Number(new URL(relay.url).port);

    // another user on the box (nobody) connects first and asks for the stream
    const probe = `const s=require('net').connect(${port},'127.0.0.1',()=>s.write('DESCRIBE ${relay.url} RTSP/1.0\\r\\nCSeq: 1\\r\\n\\r\\n'));let got='';s.on('data',d=>got+=d);s.on('error',e=>got+='error '+e.code);s.on('close',()=>{console.log(JSON.stringify(got));});`;
    const other = spawn(process.execPath, ['-e', probe], { uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'pipe'] });
    let said = '';
    other.stdout.on('data', (d: Buffer) => (said += d.toString()));
    await new Promise((r) => other.on('exit', r));
    // closed at once: not one byte of an answer (a reset or a plain close)
    expect(said.trim()).toMatch(/^"(error ECONNRESET)?"$/);
    expect(relay.refusedPeers).toBe(1);

    // the user it was opened for gets the stream
    const r = await runCommand('ffprobe', ['-v', 'error', '-rtsp_transport', 'tcp', '-read_intervals', '%+1', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', relay.url], { timeoutMs: 30_000 });
    expect([r.code, r.stdout.toString().trim()]).toEqual([0, 'h264']);
    // and then it listens no more
    const again = await new Promise<string>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => resolve('connected'));
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(again).toBe('ECONNREFUSED');
  });
});
