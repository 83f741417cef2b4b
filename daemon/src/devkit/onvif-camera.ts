import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { element } from '../cameras/onvif.js';

/**
 * A fake ONVIF camera for tests and the demo, on loopback: it answers a WS-Discovery Probe (UDP) with its
 * device address, and GetCapabilities, GetProfiles and GetStreamUri (HTTP SOAP) with `rtspUrl`, a real
 * test camera's stream. With `credentials` it checks the WS-Security PasswordDigest like a real one.
 */
export class FakeOnvifCamera {
  private readonly udp = dgram.createSocket('udp4');
  private readonly server: http.Server;
  udpPort = 0;
  httpPort = 0;
  /** SOAP actions it was asked, in order (what a test can check). */
  readonly calls: string[] = [];

  constructor(private readonly options: { rtspUrl: string; name: string; credentials?: { username: string; password: string } }) {
    this.server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => this.answer(body, res));
    });
  }

  get xaddr(): string {
    return `http://127.0.0.1:${this.httpPort}/onvif/device_service`;
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.httpPort = (this.server.address() as AddressInfo).port;
    this.udp.on('message', (msg, from) => {
      if (!msg.toString('utf8').includes('Probe')) return;
      const match =
        '<?xml version="1.0" encoding="UTF-8"?><e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery">' +
        `<e:Body><d:ProbeMatches><d:ProbeMatch><d:Scopes>onvif://www.onvif.org/name/${encodeURIComponent(this.options.name)} onvif://www.onvif.org/hardware/TestCam-1</d:Scopes>` +
        `<d:XAddrs>${this.xaddr}</d:XAddrs></d:ProbeMatch></d:ProbeMatches></e:Body></e:Envelope>`;
      this.udp.send(match, from.port, from.address);
    });
    await new Promise<void>((r) => this.udp.bind(0, '127.0.0.1', () => r()));
    this.udpPort = this.udp.address().port;
    return this;
  }

  private answer(body: string, res: http.ServerResponse): void {
    const action = /<(?:[A-Za-z0-9]+:)?(GetCapabilities|GetProfiles|GetStreamUri)\b/.exec(body)?.[1] ?? 'unknown';
    this.calls.push(action);
    const c = this.options.credentials;
    if (c && !this.authorised(body, c)) {
      res.writeHead(400, { 'content-type': 'application/soap+xml' });
      res.end('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value></s:Code><s:Reason><s:Text>Sender not authorized</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>');
      return;
    }
    const wrap = (inner: string): string => `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><s:Body>${inner}</s:Body></s:Envelope>`;
    const answers: Record<string, string> = {
      GetCapabilities: `<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Media><tt:XAddr>http://127.0.0.1:${this.httpPort}/onvif/media_service</tt:XAddr></tt:Media></tds:Capabilities></tds:GetCapabilitiesResponse>`,
      GetProfiles: '<trt:GetProfilesResponse><trt:Profiles token="profile_1" fixed="true"><tt:Name>main</tt:Name></trt:Profiles></trt:GetProfilesResponse>',
      GetStreamUri: `<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>${this.options.rtspUrl.replace(/&/g, '&amp;')}</tt:Uri></trt:MediaUri></trt:GetStreamUriResponse>`,
    };
    const a = answers[action];
    res.writeHead(a ? 200 : 400, { 'content-type': 'application/soap+xml' });
    res.end(wrap(a ?? '<s:Fault/>'));
  }

  private authorised(body: string, c: { username: string; password: string }): boolean {
    const nonce = element(body, 'Nonce');
    const created = element(body, 'Created');
    const digest = element(body, 'Password');
    if (element(body, 'Username') !== c.username || !nonce || !created || !digest) return false;
    const want = createHash('sha1').update(Buffer.concat([Buffer.from(nonce, 'base64'), Buffer.from(created), Buffer.from(c.password)])).digest('base64');
    return want === digest;
  }

  async stop(): Promise<void> {
    this.udp.close();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
