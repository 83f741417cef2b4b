import { describe, expect, it } from 'vitest';
import { CameraNetworks } from '../../../daemon/src/cameras/networks.js';
import { parseCameraUrl, resolveCameraUrl, type Lookup } from '../../../daemon/src/cameras/url.js';

const shopLan = new CameraNetworks(['192.168.1.0/24', '10.0.0.0/8']);
const testBox = new CameraNetworks(['127.0.0.0/8']);
// DNS is the one part replaced here: a resolver answering from a table stands in for a DNS server we cannot run.
const table: Record<string, string[]> = {
  'cam.shop.lan': ['192.168.1.20'],
  'metadata.evil.example': ['169.254.169.254'],
  'rebind.evil.example': ['192.168.1.21', '8.8.8.8'],
  'mapped.evil.example': ['::ffff:127.0.0.1'],
  localhost: ['127.0.0.1'],
};
const lookup: Lookup = async (host) => {
  const a = table[host];
  if (!a) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
  return a;
};

async function refusal(url: string, networks = shopLan): Promise<string> {
  try {
    await resolveCameraUrl(url, networks, lookup);
  } catch (err) {
    expect((err as { code: string }).code).toBe('camera_url');
    expect((err as { hint?: string }).hint, `a refusal of ${JSON.stringify(url)} says what to do`).toBeTruthy();
    return (err as Error).message;
  }
  throw new Error(`${JSON.stringify(url)} was accepted`);
}

describe('camera URLs (SECURITY.md: cameras)', () => {
  it('accepts RTSP cameras inside the camera networks and normalises them', async () => {
    const r = await resolveCameraUrl('RTSP://Cam.Shop.LAN:554/Streaming/Channels/101?transport=tcp', shopLan, lookup);
    expect(r).toMatchObject({ url: 'rtsp://cam.shop.lan:554/Streaming/Channels/101?transport=tcp', host: 'cam.shop.lan', port: 554, addresses: ['192.168.1.20'] });
    expect((await resolveCameraUrl('rtsp://192.168.1.30/live', shopLan, lookup)).port).toBe(554);
    expect((await resolveCameraUrl('rtsp://127.0.0.1:8554/stream', testBox, lookup)).addresses).toEqual(['127.0.0.1']);
  });

  it('refuses other schemes: file:, http:, https:, rtmp:, and scheme tricks', async () => {
    for (const url of ['file:///etc/passwd', 'http://192.168.1.20/video', 'https://192.168.1.20/', 'rtmp://192.168.1.20/live', 'concat:rtsp://192.168.1.20/a|file:/etc/passwd', 'subfile,,start,0,end,0,,:/etc/passwd', '-i rtsp://192.168.1.20/', 'rtsp:/192.168.1.20/x']) {
      expect(await refusal(url)).toMatch(/must start with rtsp:\/\/|not a URL|no host|spaces/);
    }
  });

  it('refuses rtsps:// cameras, whose certificate the box cannot verify', async () => {
    for (const url of ['rtsps://192.168.1.30/live', 'RTSPS://cam.shop.lan:322/x']) expect(await refusal(url)).toMatch(/rtsps:\/\/ cameras are refused: the box has no CA/);
  });

  it('refuses credentials in the URL, including userinfo tricks', async () => {
    for (const url of ['rtsp://admin:secret@192.168.1.20/x', 'rtsp://admin@192.168.1.20/x', 'rtsp://192.168.1.20@8.8.8.8/x', 'rtsp://@192.168.1.20/x', 'rtsp://a%40b:c@192.168.1.20/x', 'rtsp://192.168.1.20:554@evil.example/x']) {
      const message = await refusal(url);
      expect(message).toMatch(/username or password/);
      expect(message).not.toContain('secret');
    }
    expect(await refusal('rtsp://192.168.1.20\\@8.8.8.8/x')).toMatch(/backslash/);
    expect(await refusal('rtsp://8.8.8.8#@192.168.1.20/x')).toMatch(/fragment|username or password/);
  });

  it('refuses loopback, link-local, unspecified, multicast and IPv4-mapped addresses unless a network inside that range is configured', async () => {
    for (const url of ['rtsp://127.0.0.1/x', 'rtsp://127.8.9.10:8554/x', 'rtsp://169.254.169.254/latest', 'rtsp://0.0.0.0/x', 'rtsp://224.0.0.1/x', 'rtsp://255.255.255.255/x', 'rtsp://[::1]/x', 'rtsp://[fe80::1]/x', 'rtsp://[::]/x']) {
      expect(await refusal(url)).toMatch(/loopback|link-local|unspecified|multicast|broadcast|outside/);
    }
    expect(await refusal('rtsp://[::ffff:127.0.0.1]/x', testBox)).toMatch(/IPv4-mapped/);
    expect(await refusal('rtsp://[::ffff:192.168.1.20]/x')).toMatch(/IPv4-mapped/);
    // the widest allowed networks do not open the special ranges
    const wide = new CameraNetworks(['169.0.0.0/8', 'fe00::/7']);
    expect(await refusal('rtsp://169.254.169.254/x', wide)).toMatch(/link-local/);
    expect(await refusal('rtsp://[fe80::1]/x', wide)).toMatch(/link-local/);
    expect(await refusal('rtsp://[ff02::1]/x', wide)).toMatch(/multicast/);
    expect(await refusal('rtsp://[::1]/x', wide)).toMatch(/loopback/);
    // ...but 127.0.0.0/8 configured allows a test camera on the box, and only loopback
    expect(await refusal('rtsp://169.254.1.1/x', testBox)).toMatch(/link-local/);
    expect(await refusal('rtsp://192.168.1.20/x', testBox)).toMatch(/outside the camera networks/);
  });

  it('refuses decimal, octal, hex and shortened IPv4 forms that getaddrinfo would turn into loopback', async () => {
    for (const host of ['2130706433', '0177.0.0.1', '0x7f.0.0.1', '0x7f000001', '127.1', '127.0.1', '017700000001', '127.000.000.001', '0300.0250.0001.0024', '3232235796']) {
      expect(await refusal(`rtsp://${host}/x`, testBox), host).toMatch(/not a plain dotted IPv4 address/);
    }
  });

  it('checks every address a name resolves to, after resolution', async () => {
    expect((await resolveCameraUrl('rtsp://cam.shop.lan/x', shopLan, lookup)).addresses).toEqual(['192.168.1.20']);
    expect(await refusal('rtsp://metadata.evil.example/x')).toMatch(/169\.254\.169\.254 is a link-local address/);
    expect(await refusal('rtsp://rebind.evil.example/x')).toMatch(/8\.8\.8\.8 is outside the camera networks/);
    expect(await refusal('rtsp://mapped.evil.example/x')).toMatch(/IPv4-mapped range ::ffff:0:0\/96/);
    expect(await refusal('rtsp://localhost:8554/x')).toMatch(/loopback/);
    expect(await refusal('rtsp://no-such-host.shop.lan/x')).toMatch(/does not resolve \(ENOTFOUND\)/);
  });

  it('refuses control characters, spaces, non-ASCII, bad host names, bad ports and over-long URLs', async () => {
    for (const url of ['rtsp://192.168.1.20/x\n', 'rtsp://192.168.1.20/a\rb', 'rtsp://192.168.1.20/\x00', 'rtsp://192.168.1.20/a b', 'rtsp://192.168.1.20/\t', 'rtsp://192.168.1.20/\x7f', 'rtsp://192.168.1.20/caméra', ' rtsp://192.168.1.20/x']) {
      expect(await refusal(url)).toMatch(/spaces, control or non-ASCII/);
    }
    expect(await refusal(`rtsp://192.168.1.20/${'a'.repeat(1100)}`)).toMatch(/1120 characters long \(at most 1024\)/);
    expect(await refusal('rtsp://192.168.1.20/x#frag')).toMatch(/fragment/);
    expect(await refusal('rtsp://-bad-.shop.lan/x')).toMatch(/not a valid host name/);
    expect(await refusal('rtsp://cam%2eshop.lan/x')).toMatch(/not a valid host name/);
    expect(await refusal('rtsp://[fe80::1%25eth0]/x')).toMatch(/not an IPv6 address|not a URL/);
    expect(await refusal('rtsp://192.168.1.20:0/x')).toMatch(/port 0 is not valid/);
    expect(await refusal('rtsp://192.168.1.20:99999/x')).toMatch(/not a URL|not valid/);
    expect(await refusal('')).toMatch(/empty/);
  });

  it('resolves a name to the checked address the relay connects to', async () => {
    const r = await resolveCameraUrl('rtsp://cam.shop.lan:8554/live?ch=1', shopLan, lookup);
    expect(r).toMatchObject({ addresses: ['192.168.1.20'], port: 8554, pathAndQuery: '/live?ch=1' });
    expect(parseCameraUrl('rtsp://[fd00::20]:554/x').url).toBe('rtsp://[fd00::20]:554/x');
  });

  it('refuses catch-all and over-wide camera networks, and networks covering IPv6 forms of IPv4', () => {
    const refused = (cidr: string): string => {
      try {
        new CameraNetworks([cidr]);
      } catch (err) {
        expect((err as { hint?: string }).hint).toMatch(/cameras\.networks/);
        return (err as Error).message;
      }
      throw new Error(`${cidr} was accepted`);
    };
    expect(refused('0.0.0.0/0')).toMatch(/catch-all/);
    expect(refused('::/0')).toMatch(/catch-all/);
    expect(refused('10.0.0.0/7')).toMatch(/wider than \/8/);
    expect(refused('fc00::/6')).toMatch(/wider than \/7/);
    // net.BlockList matches every IPv4 address against an IPv4-mapped network: it would be a catch-all
    for (const [cidr, form] of [['::ffff:0:0/96', 'IPv4-mapped'], ['::ffff:10.0.0.0/104', 'IPv4-mapped'], ['::/8', 'IPv4-mapped'], ['::/96', 'IPv4-compatible'], ['64:ff9b::/96', 'NAT64'], ['2002::/16', '6to4'], ['2002:c0a8:101::/48', '6to4'], ['2001::/32', 'Teredo']]) {
      expect(refused(cidr!), cidr).toMatch(new RegExp(`covers ${form}`));
    }
    expect(refused('2000::/7')).toMatch(/covers (6to4|Teredo)/);
    expect(new CameraNetworks(['10.0.0.0/8', 'fc00::/7', '2001:db8:5::/64', '::1/128']).list).toHaveLength(4);
  });

  it('refuses IPv6 addresses that reach an IPv4 address: IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo', async () => {
    const v6lan = new CameraNetworks(['192.168.1.0/24', 'fd00::/8', '2001:db8::/32']);
    const forms: Record<string, string[]> = {
      'IPv4-mapped': ['::ffff:192.168.1.20', '::ffff:c0a8:114'],
      'IPv4-compatible': ['::192.168.1.20', '::7f00:1'],
      NAT64: ['64:ff9b::c0a8:114', '64:ff9b::127.0.0.1'],
      '6to4': ['2002:7f00:1::1', '2002:c0a8:114::5'],
      Teredo: ['2001:0:4136:e378:8000:63bf:3fff:fdd2'],
    };
    for (const [form, addresses] of Object.entries(forms)) {
      for (const a of addresses) {
        expect(v6lan.check(a), a).toEqual({ ok: false, why: expect.stringContaining(`${form} range`) });
      }
    }
    expect(await refusal('rtsp://[64:ff9b::c0a8:114]/x', v6lan)).toMatch(/NAT64 range 64:ff9b::\/96/);
    expect(await refusal('rtsp://[2002:c0a8:114::5]/x', v6lan)).toMatch(/6to4 range/);
    expect(v6lan.check('fd00::20')).toEqual({ ok: true });
    expect(v6lan.check('2001:db8::20')).toEqual({ ok: true });
    expect(v6lan.check('::1')).toMatchObject({ ok: false, why: expect.stringMatching(/loopback/) });
  });
});
