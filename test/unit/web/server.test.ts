import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { buildWebServer, cookieValue } from '../../../daemon/src/web/server.js';
import type { WebAuth } from '../../../daemon/src/web/auth.js';
import type { WebRoute } from '../../../daemon/src/web/route.js';
import { webCertificate } from '../../../daemon/src/https/tls.js';
import { tempDir } from '../../helpers/paths.js';

describe('web server', () => {
  it('refuses to start with a route that declares no access (deny by default)', async () => {
    const dir = tempDir();
    const cert = await webCertificate(path.join(dir, 'state'), { cert_file: '', key_file: '' });
    expect(cert.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const auth = { caller: () => undefined } as unknown as WebAuth;
    const forgotten = { method: 'GET', url: '/api/v1/forgotten', summary: 'no access said', handler: () => ({}) } as unknown as WebRoute;
    expect(() => buildWebServer({ cert, auth, routes: [forgotten], log: pino({ enabled: false }) })).toThrow(/declares no access/);
    const declared: WebRoute = { method: 'GET', url: '/api/v1/fine', access: 'staff', summary: 'fine', handler: () => ({}) };
    const app = buildWebServer({ cert, auth, routes: [declared], log: pino({ enabled: false }) });
    await app.ready();
    await app.close();
    // the certificate is made once and kept
    expect((await webCertificate(path.join(dir, 'state'), { cert_file: '', key_file: '' })).fingerprint).toBe(cert.fingerprint);
  });

  it('reads one cookie out of a Cookie header', () => {
    expect(cookieValue('a=1; __Host-hs_session=abc; b=2', '__Host-hs_session')).toBe('abc');
    expect(cookieValue('x__Host-hs_session=evil', '__Host-hs_session')).toBeUndefined();
    expect(cookieValue(undefined, '__Host-hs_session')).toBeUndefined();
  });
});
