import dns from 'node:dns';
import net from 'node:net';
import { redactString } from '../log/redact.js';
import { UsageError } from '../util/errors.js';
import type { CameraNetworks } from './networks.js';

/** Long enough for any camera's stream path and query; anything longer is refused rather than truncated. */
export const MAX_URL_LENGTH = 1024;
const DEFAULT_PORT: Record<string, number> = { 'rtsp:': 554, 'rtsps:': 322 };
const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;
/** What inet_aton (and so getaddrinfo and ffmpeg) would read as an IPv4 number: 2130706433, 0177.0.0.1, 0x7f.1 ... */
const NUMERIC_LABEL = /^(0x[0-9a-f]*|[0-9]+)$/i;
const DOTTED_QUAD = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export class CameraUrlError extends UsageError {
  constructor(message: string, hint: string) {
    super(message, { code: 'camera_url', hint });
  }
}

/** A syntactically valid camera URL, before DNS. */
export interface ParsedCameraUrl {
  /** Normalised URL as stored (no credentials). */
  url: string;
  scheme: 'rtsp' | 'rtsps';
  /** Host as written: a DNS name, a dotted quad, or an IPv6 address without brackets. */
  host: string;
  port: number;
  /** Path and query, e.g. `/Streaming/Channels/101?transport=tcp`. */
  pathAndQuery: string;
}

export type Lookup = (host: string) => Promise<string[]>;

/** getaddrinfo, as ffmpeg itself would resolve the name. */
export const systemLookup: Lookup = async (host) => (await dns.promises.lookup(host, { all: true, verbatim: true })).map((a) => a.address);

const fail = (message: string, hint: string): never => {
  throw new CameraUrlError(message, hint);
};

/** Parse and check the form of a camera URL (SECURITY.md: rtsp only, no userinfo, no tricks, length cap). */
export function parseCameraUrl(input: string): ParsedCameraUrl {
  const shown = JSON.stringify(redactString(input).slice(0, 120));
  if (typeof input !== 'string' || input.length === 0) fail('the camera URL is empty', 'give a URL like rtsp://192.168.1.20:554/stream1');
  if (input.length > MAX_URL_LENGTH) fail(`the camera URL is ${input.length} characters long (at most ${MAX_URL_LENGTH})`, 'use the camera\'s short stream path');
  if (/[^\x21-\x7e]/.test(input)) fail(`the camera URL ${shown} contains spaces, control or non-ASCII characters`, 'type the URL again without hidden characters (percent-encode what the path needs)');
  if (input.includes('\\')) fail(`the camera URL ${shown} contains a backslash`, 'use forward slashes only');
  let u: URL;
  try {
    u = new URL(input);
  } catch {
    return fail(`${shown} is not a URL`, 'give a URL like rtsp://192.168.1.20:554/stream1');
  }
  const scheme = u.protocol.toLowerCase();
  if (scheme === 'rtsps:') {
    fail(
      'rtsps:// cameras are refused: the box has no CA and host name per camera to verify the camera\'s TLS certificate, and an unverified TLS connection would hand the camera credentials to whoever answers',
      'use the camera\'s rtsp:// address, on the camera network (cameras.networks)',
    );
  }
  if (scheme !== 'rtsp:') fail(`camera URLs must start with rtsp://, not ${scheme}//`, 'use the camera\'s RTSP address (see its manual or web page)');
  if (u.username || u.password || /^[a-z]+:\/\/[^/?]*@/i.test(input)) {
    fail('the camera URL contains a username or password', 'remove "user:password@" from the URL and give the credentials with --username and --password-stdin (they are stored encrypted, apart from the URL)');
  }
  if (u.hash || input.includes('#')) fail(`the camera URL ${shown} contains a fragment (#)`, 'remove the "#..." part');
  const host = hostOf(u.hostname, shown);
  if (u.port !== '' && !(Number(u.port) >= 1 && Number(u.port) <= 65535)) fail(`port ${u.port} is not valid`, 'use a port between 1 and 65535 (RTSP is usually 554)');
  const port = u.port === '' ? DEFAULT_PORT[scheme]! : Number(u.port);
  const hostPart = net.isIPv6(host) ? `[${host}]` : host.toLowerCase();
  const pathAndQuery = `${u.pathname || '/'}${u.search}`;
  return { url: `${scheme}//${hostPart}${u.port === '' ? '' : `:${port}`}${pathAndQuery}`, scheme: scheme === 'rtsp:' ? 'rtsp' : 'rtsps', host: net.isIPv6(host) ? host : host.toLowerCase(), port, pathAndQuery };
}

function hostOf(hostname: string, shown: string): string {
  if (hostname === '') return fail(`the camera URL ${shown} has no host`, 'give the camera\'s address, e.g. rtsp://192.168.1.20/stream1');
  if (hostname.startsWith('[')) {
    const v6 = hostname.slice(1, -1);
    if (!net.isIPv6(v6)) fail(`${hostname} is not an IPv6 address`, 'write IPv6 addresses in brackets without a zone, e.g. rtsp://[fd00::20]/stream1');
    if (/^::ffff:/i.test(v6)) fail(`${hostname} is an IPv4-mapped IPv6 address`, 'write the IPv4 address directly, e.g. rtsp://192.168.1.20/stream1');
    return v6;
  }
  const name = hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
  const labels = name.split('.');
  if (labels.every((l) => NUMERIC_LABEL.test(l))) {
    if (!DOTTED_QUAD.test(name)) fail(`${hostname} is not a plain dotted IPv4 address (numeric, octal, hex or shortened forms are refused)`, 'write the address as four decimal numbers, e.g. 192.168.1.20');
    return name;
  }
  if (name.length > 253 || !labels.every((l) => DNS_LABEL.test(l))) fail(`${JSON.stringify(hostname.slice(0, 80))} is not a valid host name`, 'use the camera\'s IP address or a plain DNS name');
  return name;
}

/** A camera URL whose host resolved to addresses inside the camera networks. */
export interface ResolvedCameraUrl extends ParsedCameraUrl {
  addresses: string[];
}

/**
 * Parse, resolve and check a camera URL: every address the name resolves to must be allowed (a name that
 * resolves both inside and outside the camera networks is refused). Run again before every ffmpeg start.
 */
export async function resolveCameraUrl(input: string, networks: CameraNetworks, lookup: Lookup = systemLookup): Promise<ResolvedCameraUrl> {
  const parsed = parseCameraUrl(input);
  let addresses: string[];
  if (net.isIP(parsed.host)) addresses = [parsed.host];
  else {
    try {
      addresses = await lookup(parsed.host);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      return fail(`camera host ${parsed.host} does not resolve (${code})`, 'check the name, or use the camera\'s IP address');
    }
    if (addresses.length === 0) fail(`camera host ${parsed.host} does not resolve`, 'check the name, or use the camera\'s IP address');
  }
  for (const a of addresses) {
    const v = networks.check(a);
    if (!v.ok) fail(`camera host ${parsed.host} is not allowed: ${v.why}`, 'cameras must be on the shop\'s camera network; an installer can add its range to cameras.networks in the config');
  }
  return { ...parsed, addresses };
}
