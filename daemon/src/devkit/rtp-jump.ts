import net from 'node:net';

/** How the proxy alters the camera's clock. */
export interface RtpClockFaults {
  /** Every this many seconds of streaming the camera's clock is set back (a clock reset)... */
  jumpBackEveryS?: number;
  /** ...by this many seconds. */
  jumpBackS?: number;
}

interface Track {
  control: string;
  rate: number;
  video: boolean;
}

interface ChannelClock {
  rate: number;
  video: boolean;
  lastIn: number | undefined;
  applied: number;
  offset: number;
}

/**
 * An RTSP proxy on 127.0.0.1 in front of a test camera that rewrites the camera's clock: the RTP timestamps of
 * every track (and the matching RTCP sender reports) jump back at a fixed interval. RTSP over TCP only (interleaved `$` frames): a SETUP for UDP is refused, so a client
 * set to try UDP first falls back to TCP. Jumps take effect on a frame boundary (a new RTP timestamp).
 */
export class RtpClockProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  /** When (wall clock, ms) each jump of the video track was made, in the newest session that played. */
  jumpedAtMs: number[] = [];

  constructor(
    private readonly upstreamPort: number,
    private readonly faults: RtpClockFaults,
  ) {}

  async start(port = 0): Promise<this> {
    this.server = net.createServer((client) => this.session(client));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private session(client: net.Socket): void {
    const upstream = net.connect({ host: '127.0.0.1', port: this.upstreamPort });
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => {
        this.sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
      s.on('error', () => s.destroy());
    }
    const requests = new Map<string, { method: string; url: string }>();
    let tracks: Track[] = [];
    const channels = new Map<number, ChannelClock>();
    let playingSince: number | undefined;
    const fromClient = new RtspStreamParser((msg) => {
      const [method = '', url = ''] = msg.head.split(' ');
      const cseq = header(msg.head, 'CSeq');
      if (method === 'SETUP' && !/RTP\/AVP\/TCP/i.test(header(msg.head, 'Transport') ?? '')) {
        client.write(`RTSP/1.0 461 Unsupported Transport\r\nCSeq: ${cseq ?? '0'}\r\n\r\n`);
        return;
      }
      if (cseq) requests.set(cseq, { method, url });
      upstream.write(msg.raw);
    });
    const fromCamera = new RtspStreamParser((msg) => {
      if (msg.channel !== undefined) {
        const clock = channels.get(msg.channel - (msg.channel % 2));
        if (clock && msg.channel % 2 === 0) {
          if (playingSince === undefined) {
            playingSince = performance.now();
            this.jumpedAtMs = [];
          }
          this.rewriteRtp(msg.body, clock, playingSince);
        } else if (clock) rewriteSenderReport(msg.body, clock);
        client.write(msg.raw);
        return;
      }
      const req = requests.get(header(msg.head, 'CSeq') ?? '');
      if (req?.method === 'DESCRIBE') tracks = parseSdp(msg.body.toString('latin1'));
      if (req?.method === 'SETUP') {
        const m = /interleaved=(\d+)/.exec(header(msg.head, 'Transport') ?? '');
        const track = tracks.find((t) => req.url === t.control || req.url.endsWith(`/${t.control}`)) ?? tracks[channels.size];
        if (m && track) channels.set(Number(m[1]), { rate: track.rate, video: track.video, lastIn: undefined, applied: 0, offset: 0 });
      }
      client.write(msg.raw);
    });
    client.on('data', (b: Buffer) => fromClient.push(b));
    upstream.on('data', (b: Buffer) => fromCamera.push(b));
  }

  /** Set back the timestamp of an RTP packet in place once a jump is due and a new frame starts. */
  private rewriteRtp(packet: Buffer, clock: ChannelClock, since: number): void {
    if (packet.length < 12) return;
    const ts = packet.readUInt32BE(4);
    const { jumpBackEveryS, jumpBackS } = this.faults;
    if (jumpBackEveryS && jumpBackS && ts !== clock.lastIn) {
      const due = Math.floor((performance.now() - since) / 1000 / jumpBackEveryS);
      if (due > clock.applied) {
        clock.applied = due;
        clock.offset = -Math.round(due * jumpBackS * clock.rate);
        if (clock.video) this.jumpedAtMs.push(Date.now());
      }
    }
    clock.lastIn = ts;
    packet.writeUInt32BE((ts + clock.offset) >>> 0, 4);
  }
}

/** The RTP timestamp of an RTCP sender report (the first packet of a compound) follows its track's clock. */
function rewriteSenderReport(packet: Buffer, clock: ChannelClock): void {
  if (packet.length < 20 || packet[1] !== 200) return;
  packet.writeUInt32BE((packet.readUInt32BE(16) + clock.offset) >>> 0, 16);
}

function header(head: string, name: string): string | undefined {
  const m = new RegExp(`\\r\\n${name}:\\s*([^\\r]*)`, 'i').exec(head);
  return m?.[1]?.trim();
}

/** The media of an SDP: each track's control and clock rate. */
function parseSdp(sdp: string): Track[] {
  const tracks: Track[] = [];
  for (const section of sdp.split(/\r?\nm=/).slice(1)) {
    const rate = /a=rtpmap:\d+ [^/\s]+\/(\d+)/.exec(section)?.[1];
    const control = /a=control:(\S+)/.exec(section)?.[1];
    if (rate && control) tracks.push({ control, rate: Number(rate), video: section.startsWith('video') });
  }
  return tracks;
}

interface RtspMessage {
  /** Interleaved data: its channel; undefined for an RTSP message. */
  channel?: number;
  /** Request or status line and headers, without the blank line. */
  head: string;
  /** The body, or an interleaved frame's payload (a view on `raw`: rewriting it rewrites the frame). */
  body: Buffer;
  /** The whole message as it came. */
  raw: Buffer;
}

/** Splits one direction of an RTSP-over-TCP connection into RTSP messages and interleaved `$` frames. */
class RtspStreamParser {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly onMessage: (m: RtspMessage) => void) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (this.buf.length === 0) return;
      if (this.buf[0] === 0x24) {
        if (this.buf.length < 4) return;
        const end = 4 + this.buf.readUInt16BE(2);
        if (this.buf.length < end) return;
        const raw = Buffer.from(this.buf.subarray(0, end));
        this.buf = this.buf.subarray(end);
        this.onMessage({ channel: raw[1], head: '', body: raw.subarray(4), raw });
        continue;
      }
      const headEnd = this.buf.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const head = this.buf.subarray(0, headEnd).toString('latin1');
      const length = Number(header(head, 'Content-Length') ?? 0);
      const end = headEnd + 4 + length;
      if (this.buf.length < end) return;
      const raw = Buffer.from(this.buf.subarray(0, end));
      this.buf = this.buf.subarray(end);
      this.onMessage({ head, body: raw.subarray(headEnd + 4), raw });
    }
  }
}
