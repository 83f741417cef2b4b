import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** Where the relay connects: the checked camera address (never a name), and the credentials it answers with. */
export interface RelayUpstream {
  /** The address the camera-network check accepted (plain RTSP: rtsps:// cameras are refused when added). */
  address: string;
  port: number;
  credentials?: { username: string; password: string };
}

/** Something the relay refused on the box's behalf, in plain words. */
export interface RelayRefusal {
  code: 'redirect';
  message: string;
}

const MAX_HEAD = 16 * 1024;
const MAX_BODY = 256 * 1024;
const DOLLAR = 0x24;
/** Room for what a camera sends between two turns of the paced relay process (relay-pace.ts), in one read. */
const READ_BUFFER = 256 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');
/**
 * How long a camera plays before its relay may be paced: the recorder anchors a run's segments on the wall
 * clock from the first segment closes it sees (recorder/wall-anchor.ts), and these are seen without the
 * pacing's delay. Later observations only ever lower that estimate, so a paced one cannot move it later.
 */
export const UNPACED_START_MS = 30_000;

interface Message {
  /** Request line or status line. */
  first: string;
  headers: [string, string][];
  body: Buffer;
}

const header = (m: Message, name: string): string | undefined => m.headers.find(([k]) => k.toLowerCase() === name)?.[1];
const headers = (m: Message, name: string): string[] => m.headers.filter(([k]) => k.toLowerCase() === name).map(([, v]) => v);
const serialize = (m: Message): Buffer =>
  Buffer.concat([Buffer.from(`${m.first}\r\n${m.headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`, 'latin1'), m.body]);

/**
 * Reads RTSP messages and interleaved RTP/RTCP frames (`$`, channel, 16-bit length) from one direction of a
 * connection. Frames are handed on as runs of bytes without copying (the hot path: the camera's video);
 * messages are parsed. Returns false when the peer broke the framing (a message too large or malformed).
 */
class RtspStream {
  private carry: Buffer | undefined;
  private frameLeft = 0;
  broken: string | undefined;

  constructor(
    private readonly onFrames: (bytes: Buffer) => void,
    private readonly onMessage: (m: Message) => void,
  ) {}

  push(chunk: Buffer): void {
    const buf = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = undefined;
    let i = 0;
    let run = 0;
    const flush = (): void => {
      if (i > run) this.onFrames(buf.subarray(run, i));
    };
    while (i < buf.length && !this.broken) {
      if (this.frameLeft > 0) {
        const n = Math.min(this.frameLeft, buf.length - i);
        i += n;
        this.frameLeft -= n;
        continue;
      }
      if (buf[i] === DOLLAR) {
        if (buf.length - i < 4) break;
        this.frameLeft = 4 + buf.readUInt16BE(i + 2);
        continue;
      }
      flush();
      const end = buf.indexOf(HEAD_END, i);
      if (end < 0) {
        if (buf.length - i > MAX_HEAD) this.broken = 'an RTSP message head longer than 16 KiB';
        break;
      }
      const lines = buf.toString('latin1', i, end).split('\r\n');
      const m: Message = { first: lines[0]!, headers: [], body: Buffer.alloc(0) };
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        if (colon <= 0) {
          this.broken = 'a malformed RTSP header line';
          break;
        }
        m.headers.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
      }
      const length = Number(header(m, 'content-length') ?? 0);
      if (!Number.isInteger(length) || length < 0 || length > MAX_BODY) this.broken = 'an RTSP body that is too large';
      if (this.broken) break;
      if (buf.length < end + 4 + length) break;
      m.body = Buffer.from(buf.subarray(end + 4, end + 4 + length));
      i = end + 4 + length;
      run = i;
      this.onMessage(m);
    }
    if (this.broken) return;
    flush();
    if (i < buf.length) this.carry = Buffer.from(buf.subarray(i));
  }
}

const md5 = (s: string): string => createHash('md5').update(s, 'utf8').digest('hex');

/** Parse `Digest realm="x", nonce="y", qop="auth"` into its parameters (names lower-cased). */
function authParams(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of value.matchAll(/([a-zA-Z]+)\s*=\s*(?:"([^"]*)"|([^\s,]+))/g)) out[m[1]!.toLowerCase()] = m[2] ?? m[3] ?? '';
  return out;
}

/** Answers a camera's challenge (RFC 2617 Digest with MD5, or Basic) for each request after it. */
class Authenticator {
  private scheme: 'basic' | 'digest' | undefined;
  private params: Record<string, string> = {};
  private nc = 0;

  constructor(private readonly credentials: { username: string; password: string }) {}

  get ready(): boolean {
    return this.scheme !== undefined;
  }

  /** Take the camera's WWW-Authenticate headers; false when none is a scheme the relay can answer. */
  challenge(values: string[]): boolean {
    const digest = values.find((v) => /^digest\s/i.test(v));
    const basic = values.find((v) => /^basic(\s|$)/i.test(v));
    if (digest) {
      const p = authParams(digest.replace(/^digest\s+/i, ''));
      if (p.algorithm && p.algorithm.toUpperCase() !== 'MD5') return false;
      this.scheme = 'digest';
      this.params = p;
      this.nc = 0;
      return true;
    }
    if (basic) {
      this.scheme = 'basic';
      return true;
    }
    return false;
  }

  header(method: string, uri: string): string | undefined {
    const { username, password } = this.credentials;
    if (this.scheme === 'basic') return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
    if (this.scheme !== 'digest') return undefined;
    const p = this.params;
    const ha1 = md5(`${username}:${p.realm ?? ''}:${password}`);
    const ha2 = md5(`${method}:${uri}`);
    const qop = (p.qop ?? '').split(',').map((q) => q.trim()).includes('auth') ? 'auth' : undefined;
    const parts = [`username="${username}"`, `realm="${p.realm ?? ''}"`, `nonce="${p.nonce ?? ''}"`, `uri="${uri}"`];
    if (qop) {
      this.nc += 1;
      const nc = this.nc.toString(16).padStart(8, '0');
      const cnonce = randomBytes(8).toString('hex');
      parts.push(`response="${md5(`${ha1}:${p.nonce ?? ''}:${nc}:${cnonce}:${qop}:${ha2}`)}"`, `qop=${qop}`, `nc=${nc}`, `cnonce="${cnonce}"`);
    } else {
      parts.push(`response="${md5(`${ha1}:${p.nonce ?? ''}:${ha2}`)}"`);
    }
    if (p.opaque !== undefined) parts.push(`opaque="${p.opaque}"`);
    if (p.algorithm) parts.push(`algorithm=${p.algorithm}`);
    return `Digest ${parts.join(', ')}`;
  }
}

/** `/proc/net/tcp` form of an address and port, e.g. 127.0.0.1:8080 -> 0100007F:1F90. */
function procNetEndpoint(address: string, port: number): string | undefined {
  const v4 = net.isIPv4(address) ? address : /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (!v4) return undefined;
  const hex = Buffer.from(v4.split('.').map(Number)).readUInt32LE(0).toString(16).toUpperCase().padStart(8, '0');
  return `${hex}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** The user owning the local end of a TCP connection on this machine, from /proc/net/tcp; undefined if not found. */
export function ownerOfConnection(peerAddress: string, peerPort: number, localPort: number): number | undefined {
  const peer = procNetEndpoint(peerAddress, peerPort);
  if (!peer) return undefined;
  let table: string;
  try {
    table = readFileSync('/proc/net/tcp', 'latin1');
  } catch {
    return undefined;
  }
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] === peer && f[2]?.endsWith(`:${localPort.toString(16).toUpperCase().padStart(4, '0')}`)) return Number(f[7]);
  }
  return undefined;
}

/**
 * A one-connection RTSP relay on loopback between ffmpeg and one camera (SECURITY.md, "camera credentials").
 * ffmpeg gets `rtsp://127.0.0.1:PORT/path` with no credentials, so none is ever in a child's argv or
 * environment. The relay connects only to the address the camera-network check accepted, answers the camera's
 * authentication itself (Digest or Basic), and refuses redirects (a 3xx would send ffmpeg, and formerly its
 * credentials, to any host). It serves one connection, from the user it was opened for, then stops
 * listening: no other local user can pull the stream through it.
 *
 * The video passes as runs of bytes, unparsed past the interleaved framing and uncopied. Once the camera has
 * played for UNPACED_START_MS the relay is `steady`, and the relay process paces its loop (relay-pace.ts):
 * each turn moves what every camera sent meanwhile with one read and one write, instead of a wake-up per burst.
 */
export class RtspRelay {
  /** What ffmpeg is given: the relay's address with the camera's path and query. */
  url = '';
  refusal: RelayRefusal | undefined;
  /** Connections refused because they came from another user, or after the first. */
  refusedPeers = 0;
  private readonly server = net.createServer();
  private client: net.Socket | undefined;
  private upstream: net.Socket | undefined;
  private readonly auth: Authenticator | undefined;
  /** Requests sent to the camera, by CSeq, so a 401 can be answered by sending it again with credentials. */
  private readonly sent = new Map<string, { message: Message; tries: number }>();
  private relayPrefix = '';
  private fromCamera: ((chunk: Buffer) => boolean) | undefined;
  private cameraPrefix = '';
  /** When the camera answered PLAY (what follows from it is video); undefined while the control exchange goes on. */
  private playingSinceMs: number | undefined;
  private closed = false;

  private constructor(
    private readonly up: RelayUpstream,
    private readonly allowedUid: number | undefined,
    private readonly unpacedStartMs: number,
  ) {
    this.auth = up.credentials ? new Authenticator(up.credentials) : undefined;
    const host = net.isIPv6(up.address) ? `[${up.address}]` : up.address;
    this.cameraPrefix = `rtsp://${host}:${up.port}`;
  }

  /**
   * Listen on 127.0.0.1 (a free port) for the one ffmpeg that will connect. `allowedUid`: the user ffmpeg runs
   * as (default: this process's user); a connection from anyone else is closed at once. `unpacedStartMs`: how
   * long it plays before it is steady (default UNPACED_START_MS).
   */
  static async open(up: RelayUpstream, pathAndQuery: string, options: { allowedUid?: number; unpacedStartMs?: number } = {}): Promise<RtspRelay> {
    const relay = new RtspRelay(up, options.allowedUid ?? process.getuid?.(), options.unpacedStartMs ?? UNPACED_START_MS);
    await new Promise<void>((resolve, reject) => {
      relay.server.once('error', reject);
      relay.server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => resolve());
    });
    const port = (relay.server.address() as net.AddressInfo).port;
    relay.relayPrefix = `rtsp://127.0.0.1:${port}`;
    relay.url = `${relay.relayPrefix}${pathAndQuery}`;
    relay.server.on('connection', (socket) => relay.accept(socket));
    relay.server.on('error', () => relay.close());
    return relay;
  }

  /**
   * The camera has played for UNPACED_START_MS (or as opened): the recorder's UTC index is anchored on segment closes seen
   * without delay, and the relay may now be paced (relay-pace.ts).
   */
  get steady(): boolean {
    return !this.closed && this.playingSinceMs !== undefined && performance.now() - this.playingSinceMs >= this.unpacedStartMs;
  }

  close(): void {
    this.closed = true;
    this.server.close();
    this.client?.destroy();
    this.upstream?.destroy();
  }

  private accept(socket: net.Socket): void {
    const uid = this.allowedUid === undefined ? undefined : ownerOfConnection(socket.remoteAddress ?? '', socket.remotePort ?? 0, socket.localPort ?? 0);
    if (this.client || (this.allowedUid !== undefined && uid !== this.allowedUid)) {
      this.refusedPeers += 1;
      socket.destroy();
      return;
    }
    this.client = socket;
    this.server.close(); // one connection: nobody else can connect once ffmpeg has
    const { address, port } = this.up;
    // The camera's bytes are read into one reused buffer (no stream machinery per read) and written on from it
    // without a copy. A write to loopback nearly always completes at once; one that did not still holds the
    // buffer, which then stays with it, and the next read goes into a new one.
    let readInto = Buffer.allocUnsafe(READ_BUFFER);
    const nextReadBuffer = (): Buffer => {
      if (socket.writableLength > 0) readInto = Buffer.allocUnsafe(READ_BUFFER);
      return readInto;
    };
    const onread = { buffer: nextReadBuffer, callback: (n: number, buf: Uint8Array): boolean => this.fromCamera?.(Buffer.from(buf.buffer, buf.byteOffset, n)) ?? true };
    const upstream = net.connect({ host: address, port, onread });
    this.upstream = upstream;
    upstream.setNoDelay(true);
    socket.setNoDelay(true);

    const fromClient = new RtspStream(
      (bytes) => this.forward(socket, upstream, bytes),
      (m) => this.request(m),
    );
    const fromCamera = new RtspStream(
      (bytes) => this.forward(upstream, socket, bytes),
      (m) => this.response(m),
    );
    socket.on('data', (chunk: Buffer) => {
      fromClient.push(chunk);
      if (fromClient.broken) this.close();
    });
    this.fromCamera = (chunk: Buffer): boolean => {
      fromCamera.push(chunk);
      if (fromCamera.broken) this.close();
      return !fromCamera.broken;
    };
    const end = (): void => this.close();
    for (const s of [socket, upstream]) {
      s.on('error', end);
      s.on('close', end);
    }
  }

  /** Pass bytes on; when the receiver is slow, stop reading the sender until it drains (TCP holds it back). */
  private forward(from: net.Socket, to: net.Socket, bytes: Buffer): void {
    if (!to.write(bytes)) {
      from.pause();
      to.once('drain', () => {
        if (!from.destroyed) from.resume();
      });
    }
  }

  private request(m: Message): void {
    const [method = '', uri = '', version = 'RTSP/1.0'] = m.first.split(' ');
    // ffmpeg addresses the relay; the camera gets its own address back
    const target = uri.startsWith(this.relayPrefix) ? this.cameraPrefix + uri.slice(this.relayPrefix.length) : uri;
    m.first = `${method} ${target} ${version}`;
    m.headers = m.headers.filter(([k]) => k.toLowerCase() !== 'authorization');
    const cseq = header(m, 'cseq') ?? '';
    this.sent.set(cseq, { message: m, tries: 0 });
    if (this.sent.size > 64) this.sent.delete(this.sent.keys().next().value!);
    this.send(m);
  }

  private send(m: Message): void {
    const [method = '', uri = ''] = m.first.split(' ');
    const authorization = this.auth?.ready ? this.auth.header(method, uri) : undefined;
    const out: Message = { ...m, headers: authorization ? [...m.headers, ['Authorization', authorization]] : m.headers };
    this.upstream?.write(serialize(out));
  }

  private response(m: Message): void {
    const status = Number(m.first.split(' ')[1]);
    const cseq = header(m, 'cseq') ?? '';
    const pending = this.sent.get(cseq);
    if (status === 401 && this.auth && pending && pending.tries < 2 && this.auth.challenge(headers(m, 'www-authenticate'))) {
      // answer the challenge ourselves and ask again; ffmpeg sees only the camera's final answer
      pending.tries += 1;
      this.send(pending.message);
      return;
    }
    if (status >= 300 && status < 400) {
      const location = header(m, 'location') ?? 'an unnamed address';
      this.refusal = { code: 'redirect', message: `the camera redirected to ${location.replace(/\/\/[^@/]*@/, '//')}; the box refuses redirects (cameras are reached only at their checked address)` };
      this.client?.write(serialize({ first: 'RTSP/1.0 403 Forbidden', headers: [['CSeq', cseq]], body: Buffer.alloc(0) }));
      this.close();
      return;
    }
    if (status !== 401) this.sent.delete(cseq);
    if (status >= 200 && status < 300 && this.playingSinceMs === undefined && pending?.message.first.startsWith('PLAY ')) this.playingSinceMs = performance.now();
    // URLs the camera names for itself point ffmpeg back at the relay
    m.headers = m.headers.map(([k, v]) => (/^content-(base|location)$/i.test(k) ? [k, v.replace(/^rtsps?:\/\/[^/]+/i, this.relayPrefix)] : [k, v]));
    this.client?.write(serialize(m));
  }
}
