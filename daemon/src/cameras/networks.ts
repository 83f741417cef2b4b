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

export type AddressVerdict = { ok: true } | { ok: false; why: string };

/** The configured camera networks (config `cameras.networks`). */
export class CameraNetworks {
  private readonly cidrs: Cidr[];

  constructor(cidrs: readonly string[]) {
    this.cidrs = cidrs.map(parseCidr);
  }

  get list(): string[] {
    return this.cidrs.map((c) => c.text);
  }

  /** Whether a resolved IP address may be a camera. */
  check(address: string): AddressVerdict {
    const family = familyOf(address);
    if (!family) return { ok: false, why: `${address} is not an IP address` };
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
