import net from 'node:net';
import { onRtspRequests } from '../../helpers/fake-rtsp.js';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { relayHost } from '../../../daemon/src/cameras/relay-host.js';

/** An interleaved RTP frame: `$`, channel 0, 16-bit length, a payload whose bytes say which frame it is. */
function frame(i: number): Buffer {
  const size = 200 + ((i * 37) % 1200);
  const out = Buffer.alloc(4 + size);
  out[0] = 0x24;
  out.writeUInt16BE(size, 2);
  for (let k = 4; k < out.length; k++) out[k] = (i + k) & 0xff;
  return out;
}

interface Camera {
  port: number;
  /** Every frame the camera sent, in order. */
  sent: Buffer[];
  /** Requests the camera received (heads). */
  requests: string[];
  close: () => void;
}

/**
 * A camera that answers every request with 200, and after PLAY writes `frames` frames one write at a time, a
 * few milliseconds apart (as cameras do: an RTP packet per write). `onRequest` may answer a request itself.
 */
async function camera(frames: number, onRequest?: (head: string, cseq: string, s: net.Socket) => boolean): Promise<Camera> {
  const sent: Buffer[] = [];
  const requests: string[] = [];
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    s.setNoDelay(true);
    onRtspRequests(s, (head, cseq) => {
      requests.push(head);
      if (onRequest?.(head, cseq, s)) return;
      s.write(`RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\n\r\n`);
      if (head.startsWith('PLAY ')) {
        let i = 0;
        const timer = setInterval(() => {
          for (let burst = 0; burst < 4 && i < frames; burst++, i++) {
            const f = frame(i);
            sent.push(f);
            if (!s.destroyed) s.write(f);
          }
          if (i >= frames) clearInterval(timer);
        }, 2);
        s.on('close', () => clearInterval(timer));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    sent,
    requests,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** The client ffmpeg would be: sends PLAY, keeps every byte it gets and counts the reads. */
async function player(url: string, o: { pauseMs?: number } = {}): Promise<{ socket: net.Socket; bytes: () => Buffer; reads: () => number; closed: Promise<void> }> {
  const socket = net.connect(Number(new URL(url).port), '127.0.0.1');
  await new Promise<void>((r, j) => socket.once('connect', r).once('error', j));
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  socket.write(`PLAY ${url} RTSP/1.0\r\nCSeq: 1\r\n\r\n`);
  if (o.pauseMs) {
    // a receiver that stops reading for a while: the relay must hold the camera back, not lose or mix bytes
    socket.pause();
    setTimeout(() => socket.resume(), o.pauseMs);
  }
  return { socket, bytes: () => Buffer.concat(chunks), reads: () => chunks.length, closed };
}

const PLAY_REPLY = 'RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n';

/** A relay in the relay process, as the recorder opens it, but paced as soon as it plays (not after 30 s). */
async function openRelay(port: number, credentials?: { username: string; password: string }): Promise<{ url: string; close: () => ReturnType<ReturnType<typeof relayHost>['close']> }> {
  const { id, url } = await relayHost().open({ address: '127.0.0.1', port, credentials }, '/stream', { unpacedStartMs: 0 });
  return { url, close: () => relayHost().close(id) };
}

describe('camera relay: the stream passes whole, in few reads; requests still get credentials and replies are watched while it plays', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  afterAll(() => relayHost().stop());

  it('passes every byte of a stream written a packet at a time, in order, gathered into a few reads', async () => {
    const cam = await camera(2000);
    const relay = await openRelay(cam.port);
    cleanups.push(cam.close, relay.close);
    const p = await player(relay.url);
    const expected = () => Buffer.concat([Buffer.from(PLAY_REPLY, 'latin1'), ...cam.sent]);
    await waitUntil(() => cam.sent.length === 2000 && p.bytes().length === expected().length, 20_000);
    expect(p.bytes().equals(expected())).toBe(true);
    // 500 camera writes (4 frames each, every 2 ms or more on a busy machine) reach the player in a few reads per
    // turn of the paced relay process (one every 40-100 ms), where an unpaced relay passes each write on as it
    // comes (about 700 reads)
    expect(p.reads()).toBeLessThan(300);
  });

  it('holds the camera back while the receiver does not read, and loses or mixes no byte when it reads again', async () => {
    const cam = await camera(3000);
    const relay = await openRelay(cam.port);
    cleanups.push(cam.close, relay.close);
    const p = await player(relay.url, { pauseMs: 1500 });
    const expected = () => Buffer.concat([Buffer.from(PLAY_REPLY, 'latin1'), ...cam.sent]);
    await waitUntil(() => cam.sent.length === 3000 && p.bytes().length === expected().length, 20_000);
    expect(p.bytes().equals(expected())).toBe(true);
  });

  it('while the video plays, the player\'s keep-alives still reach the camera with its credentials', async () => {
    const basic = `Basic ${Buffer.from('viewer:s3cret').toString('base64')}`;
    const cam = await camera(100_000, (head, cseq, s) => {
      if (head.includes(`Authorization: ${basic}`)) return false;
      s.write(`RTSP/1.0 401 Unauthorized\r\nCSeq: ${cseq}\r\nWWW-Authenticate: Basic realm="cam"\r\n\r\n`);
      return true;
    });
    const relay = await openRelay(cam.port, { username: 'viewer', password: 's3cret' });
    cleanups.push(cam.close, relay.close);
    const p = await player(relay.url);
    await waitUntil(() => cam.sent.length > 200, 10_000);
    p.socket.write(`GET_PARAMETER ${relay.url} RTSP/1.0\r\nCSeq: 2\r\n\r\n`);
    await waitUntil(() => p.bytes().includes('RTSP/1.0 200 OK\r\nCSeq: 2\r\n\r\n'), 10_000);
    expect(cam.requests.filter((r) => r.startsWith('GET_PARAMETER ')).every((r) => r.includes(`Authorization: ${basic}`))).toBe(true);
    expect(p.bytes().toString('latin1')).not.toMatch(/401 Unauthorized/);
  });

  it('refuses a redirect the camera answers while the stream plays', async () => {
    const cam = await camera(100_000, (head, cseq, s) => {
      if (!head.startsWith('GET_PARAMETER ')) return false;
      s.write(`RTSP/1.0 302 Moved Temporarily\r\nCSeq: ${cseq}\r\nLocation: rtsp://127.0.0.2:554/elsewhere\r\n\r\n`);
      return true;
    });
    const relay = await openRelay(cam.port);
    cleanups.push(cam.close, relay.close);
    const p = await player(relay.url);
    await waitUntil(() => cam.sent.length > 200, 10_000);
    p.socket.write(`GET_PARAMETER ${relay.url} RTSP/1.0\r\nCSeq: 2\r\n\r\n`);
    await p.closed;
    const refusal = await relay.close();
    expect(refusal?.code).toBe('redirect');
    expect(refusal?.message).toMatch(/redirected to rtsp:\/\/127\.0\.0\.2:554\/elsewhere/);
    // the player got the frames, then a refusal in place of the redirect, and never the camera's 302
    const text = p.bytes().toString('latin1');
    expect(text).toMatch(/RTSP\/1\.0 403 Forbidden\r\nCSeq: 2\r\n\r\n$/);
    expect(text).not.toContain('elsewhere');
  });
});

async function waitUntil(ok: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
