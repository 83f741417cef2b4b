import net from 'node:net';
import { HindsightError } from '../util/errors.js';

type Family = 'ipv4' | 'ipv6';

interface Cidr {
  text: string;
  network: string;
  prefix: number;
  family: Family;
  list: net.BlockList;
}

/**
 * Ranges that are never a shop camera and are classic SSRF targets (the box itself, cloud metadata at
 * 169.254.169.254, multicast). An address in one of them is allowed only by a configured network that lies
 * inside that same range: 127.0.0.0/8 allows a test camera on the box, 0.0.0.0/0 does not.
 */
const SPECIAL_RANGES: { name: string; cidr: string }[] = [
  { name: 'unspecified', cidr: '0.0.0.0/8' },
  { name: 'loopback', cidr: '127.0.0.0/8' },
  { name: 'link-local', cidr: '169.254.0.0/16' },
  { name: 'multicast', cidr: '224.0.0.0/4' },
  { name: 'reserved/broadcast', cidr: '240.0.0.0/4' },
  { name: 'unspecified', cidr: '::/128' },
  { name: 'loopback', cidr: '::1/128' },
  { name: 'link-local', cidr: 'fe80::/10' },
  { name: 'multicast', cidr: 'ff00::/8' },
];

/**
 * IPv6 forms that carry an IPv4 address, which a relay, translator or the socket layer turns into a
 * connection to that IPv4 address: they would take a camera connection past the IPv4 checks (and
 * net.BlockList matches an IPv4 address against an IPv4-mapped IPv6 network), so they are never a camera's
 * address and never part of a camera network.
 */
const EMBEDDED_IPV4_RANGES: { name: string; cidr: string }[] = [
  { name: 'IPv4-mapped', cidr: '::ffff:0:0/96' },
  { name: 'IPv4-translated', cidr: '::ffff:0:0:0/96' },
  { name: 'IPv4-compatible', cidr: '::/96' },
  { name: 'NAT64', cidr: '64:ff9b::/96' },
  { name: 'NAT64 (local-use)', cidr: '64:ff9b:1::/48' },
  { name: '6to4', cidr: '2002::/16' },
  { name: 'Teredo', cidr: '2001::/32' },
];

/** The widest network accepted as a camera network: a /8 of IPv4, or a /7 of IPv6 (fc00::/7, unique-local). */
const MIN_PREFIX: Record<Family, number> = { ipv4: 8, ipv6: 7 };

function familyOf(address: string): Family | undefined {
  const v = net.isIP(address);
  return v === 4 ? 'ipv4' : v === 6 ? 'ipv6' : undefined;
}

export function parseCidr(text: string): Cidr {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text.trim());
  const family = m ? familyOf(m[1]!) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (!m || !family || prefix > (family === 'ipv4' ? 32 : 128)) {
    throw new HindsightError(`camera network ${JSON.stringify(text)} is not a CIDR network`, {
      code: 'config_invalid',
      hint: 'write cameras.networks entries like 192.168.1.0/24 or fd00::/8',
    });
  }
  const list = new net.BlockList();
  list.addSubnet(m[1]!, prefix, family);
  return { text: text.trim(), network: m[1]!, prefix, family, list };
}

const special = SPECIAL_RANGES.map((r) => ({ name: r.name, range: parseCidr(r.cidr) }));
const embedded = EMBEDDED_IPV4_RANGES.map((r) => ({ name: r.name, range: parseCidr(r.cidr) }));
const LOOPBACK_OR_UNSPECIFIED_V6 = parseCidr('::/127');

/** Whether two networks of the same family share an address (one holds the other's first address). */
function overlaps(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && (a.list.check(b.network, b.family) || b.list.check(a.network, a.family));
}

/** The embedded-IPv4 range an IPv6 address lies in (`::` and `::1` are not: they are checked as special). */
function embeddedRange(address: string, family: Family): { name: string; range: Cidr } | undefined {
  if (family !== 'ipv6' || special.some((s) => s.range.prefix === 128 && s.range.list.check(address, 'ipv6'))) return undefined;
  return embedded.find((e) => e.range.list.check(address, 'ipv6'));
}

/** A configured camera network, refused when it is a catch-all, too wide, or covers an embedded-IPv4 range. */
function cameraNetwork(text: string): Cidr {
  const c = parseCidr(text);
  const refuse = (why: string): never => {
    throw new HindsightError(`camera network ${JSON.stringify(c.text)} ${why}`, {
      code: 'config_invalid',
      hint: "list only the shop's camera networks in cameras.networks, e.g. 192.168.1.0/24 or fd00::/8",
    });
  };
  if (c.prefix === 0) refuse('is a catch-all (every address); it cannot be a camera network');
  if (c.prefix < MIN_PREFIX[c.family]) refuse(`is wider than /${MIN_PREFIX[c.family]}; a camera network is at most a /${MIN_PREFIX[c.family]}`);
  // `::1/128` (a test camera on the box) lies in ::/96 but is loopback, checked as such
  const e = c.family === 'ipv6' && c.prefix >= 127 && LOOPBACK_OR_UNSPECIFIED_V6.list.check(c.network, 'ipv6') ? undefined : embedded.find((r) => overlaps(c, r.range));
  if (e) refuse(`covers ${e.name} addresses (${e.range.text}), IPv6 forms that reach IPv4 addresses; give the IPv4 network itself`);
  return c;
}

export type AddressVerdict = { ok: true } | { ok: false; why: string };

/** The configured camera networks (config `cameras.networks`). */
export class CameraNetworks {
  private readonly cidrs: Cidr[];

  constructor(cidrs: readonly string[]) {
    this.cidrs = cidrs.map(cameraNetwork);
  }

  get list(): string[] {
    return this.cidrs.map((c) => c.text);
  }

  /** Whether a resolved IP address may be a camera. */
  check(address: string): AddressVerdict {
    const family = familyOf(address);
    if (!family) return { ok: false, why: `${address} is not an IP address` };
    const carrier = embeddedRange(address, family);
    if (carrier) return { ok: false, why: `${address} is in the ${carrier.name} range ${carrier.range.text}, an IPv6 form that reaches an IPv4 address, which is not allowed for cameras` };
    const within = this.cidrs.filter((c) => c.list.check(address, family));
    const range = special.find((s) => s.range.list.check(address, family));
    if (range) {
      const inside = within.some((c) => c.family === range.range.family && c.prefix >= range.range.prefix && range.range.list.check(c.network, c.family));
      if (!inside) return { ok: false, why: `${address} is a ${range.name} address, which is not allowed for cameras` };
      return { ok: true };
    }
    if (within.length === 0) return { ok: false, why: `${address} is outside the camera networks (${this.list.join(', ') || 'none configured'})` };
    return { ok: true };
  }
}
