import { createHash, randomBytes, randomUUID } from 'node:crypto';
import dgram from 'node:dgram';
import http from 'node:http';
import { isIP } from 'node:net';
import { HindsightError } from '../util/errors.js';
import type { CameraNetworks } from './networks.js';

/** WS-Discovery's multicast group and port (ONVIF Core, 7.3). */
export const WS_DISCOVERY = { address: '239.255.255.250', port: 3702 };
/** Largest SOAP answer read from a camera (a camera is not trusted to be small). */
const MAX_ANSWER = 256 * 1024;

export interface DiscoveredCamera {
  /** The device service address the camera announced (inside the camera networks). */
  xaddr: string;
  /** Its name and hardware from the ONVIF scopes, when it gave them. */
  name: string | null;
  hardware: string | null;
}

/** The text of the first element named `local` (any namespace prefix), XML entities decoded; no DTD is ever read. */
export function element(xml: string, local: string): string | undefined {
  const m = new RegExp(`<(?:[A-Za-z0-9_-]+:)?${local}(?:\\s[^>]*)?>([\\s\\S]*?)</(?:[A-Za-z0-9_-]+:)?${local}>`).exec(xml);
  return m ? decode(m[1]!.trim()) : undefined;
}

function decode(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function probeMessage(): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing" ' +
    'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">' +
    `<e:Header><w:MessageID>uuid:${randomUUID()}</w:MessageID><w:To e:mustUnderstand="true">urn:schemas-xmlsoap-org:ws:2005:04:discovery</w:To>` +
    '<w:Action e:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</w:Action></e:Header>' +
    '<e:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></e:Body></e:Envelope>'
  );
}

/** Is this URL's host an IP inside the camera networks? (Discovery answers are not trusted to point elsewhere.) */
function allowedUrl(url: string, networks: CameraNetworks): URL | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:' || u.username || u.password) return undefined;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (!isIP(host) || !networks.check(host).ok) return undefined;
  return u;
}

/**
 * Ask the camera networks who is an ONVIF camera: a WS-Discovery Probe to the multicast group (and to any
 * unicast targets, e.g. a camera on another subnet), answers gathered for `waitMs`. Only device addresses
 * inside the camera networks are kept.
 */
export async function discoverCameras(options: { networks: CameraNetworks; multicast: boolean; targets: readonly { host: string; port: number }[]; waitMs: number }): Promise<DiscoveredCamera[]> {
  const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  const found = new Map<string, DiscoveredCamera>();
  socket.on('message', (msg) => {
    if (msg.length > 65_000) return;
    const xml = msg.toString('utf8');
    const xaddrs = (element(xml, 'XAddrs') ?? '').split(/\s+/).filter(Boolean);
    const scopes = (element(xml, 'Scopes') ?? '').split(/\s+/);
    const scope = (kind: string): string | null => {
      const s = scopes.find((x) => x.startsWith(`onvif://www.onvif.org/${kind}/`));
      return s ? decodeURIComponent(s.slice(`onvif://www.onvif.org/${kind}/`.length)).slice(0, 100) : null;
    };
    for (const x of xaddrs) {
      const u = allowedUrl(x, options.networks);
      if (u && !found.has(u.href)) found.set(u.href, { xaddr: u.href, name: scope('name'), hardware: scope('hardware') });
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, () => resolve());
  });
  const probe = Buffer.from(probeMessage());
  const send = (port: number, host: string): Promise<void> => new Promise((resolve) => socket.send(probe, port, host, () => resolve()));
  try {
    if (options.multicast) await send(WS_DISCOVERY.port, WS_DISCOVERY.address);
    for (const t of options.targets) await send(t.port, t.host);
    await new Promise((r) => setTimeout(r, options.waitMs));
  } finally {
    socket.close();
  }
  return [...found.values()];
}

/** A WS-Security UsernameToken header (PasswordDigest), as ONVIF devices expect. */
function security(username: string, password: string): string {
  const nonce = randomBytes(16);
  const created = new Date().toISOString();
  const digest = createHash('sha1').update(Buffer.concat([nonce, Buffer.from(created), Buffer.from(password)])).digest('base64');
  return (
    '<s:Header><wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" ' +
    'xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"><wsse:UsernameToken>' +
    `<wsse:Username>${escape(username)}</wsse:Username>` +
    `<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">${digest}</wsse:Password>` +
    `<wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-soap-message-security-1.0#Base64Binary">${nonce.toString('base64')}</wsse:Nonce>` +
    `<wsu:Created>${created}</wsu:Created></wsse:UsernameToken></wsse:Security></s:Header>`
  );
}

/** One SOAP call to a camera: no redirects followed, a size cap, a deadline; the answer's body text. */
function soap(url: URL, body: string, credentials: { username: string; password: string } | undefined, timeoutMs: number): Promise<string> {
  const envelope = `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema">${credentials ? security(credentials.username, credentials.password) : ''}<s:Body>${body}</s:Body></s:Envelope>`;
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/soap+xml; charset=utf-8' }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER) req.destroy(new Error('the camera answered with too much data'));
        else chunks.push(c);
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode === 200) return resolve(text);
        const fault = element(text, 'Text') ?? element(text, 'Reason');
        if (res.statusCode === 401 || /NotAuthorized|not authorized|Sender/i.test(fault ?? '')) return reject(new HindsightError('the camera refused the user name or password', { code: 'camera_auth', hint: 'give the camera\'s ONVIF user name and password' }));
        reject(new HindsightError(`the camera answered ${res.statusCode ?? '?'}${fault ? `: ${fault.slice(0, 200)}` : ''}`, { code: 'onvif_failed' }));
      });
    });
    req.on('timeout', () => req.destroy(new Error('the camera did not answer in time')));
    req.on('error', (err) => reject(err instanceof HindsightError ? err : new HindsightError(`could not ask the camera: ${err.message}`, { code: 'onvif_failed', hint: 'check that the camera is on and its ONVIF service is enabled' })));
    req.end(envelope);
  });
}

/**
 * The RTSP address of a discovered camera's first media profile: GetCapabilities (where its media
 * service is), GetProfiles, GetStreamUri. Every address it gives must be inside the camera networks.
 */
export async function onvifStreamUri(xaddr: string, options: { networks: CameraNetworks; credentials?: { username: string; password: string }; timeoutMs: number }): Promise<{ uri: string; profile: string }> {
  const device = allowedUrl(xaddr, options.networks);
  if (!device) throw new HindsightError(`${xaddr.slice(0, 200)} is not an http address inside the camera networks`, { code: 'not_allowed' });
  const caps = await soap(device, '<tds:GetCapabilities><tds:Category>Media</tds:Category></tds:GetCapabilities>', options.credentials, options.timeoutMs);
  const mediaAt = element(element(caps, 'Media') ?? '', 'XAddr') ?? device.href;
  const media = allowedUrl(mediaAt, options.networks);
  if (!media) throw new HindsightError('the camera named a media service outside the camera networks', { code: 'not_allowed' });
  const profiles = await soap(media, '<trt:GetProfiles/>', options.credentials, options.timeoutMs);
  const token = /<(?:[A-Za-z0-9_-]+:)?Profiles\b[^>]*\btoken="([^"]{1,64})"/.exec(profiles)?.[1];
  if (!token) throw new HindsightError('the camera has no media profile', { code: 'onvif_failed' });
  const answer = await soap(
    media,
    `<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup><trt:ProfileToken>${escape(token)}</trt:ProfileToken></trt:GetStreamUri>`,
    options.credentials,
    options.timeoutMs,
  );
  const uri = element(element(answer, 'MediaUri') ?? answer, 'Uri');
  if (!uri || !/^rtsps?:\/\//i.test(uri) || uri.length > 2048) throw new HindsightError('the camera gave no RTSP address', { code: 'onvif_failed' });
  return { uri, profile: token };
}
