import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCommand } from '../util/child.js';
import { HindsightError } from '../util/errors.js';

export interface WebCertificate {
  cert: string;
  key: string;
  /** SHA-256 of the certificate, colon-separated hex, as browsers show it. */
  fingerprint: string;
  /** Made by the box itself (true) or given in the config. */
  selfSigned: boolean;
}

/** The files of the box's own certificate, under the state folder. */
export function selfSignedPaths(stateDir: string): { cert: string; key: string } {
  return { cert: path.join(stateDir, 'web', 'cert.pem'), key: path.join(stateDir, 'web', 'key.pem') };
}

/**
 * The web app's certificate: the configured one, or the box's own self-signed P-256 certificate, made at
 * the first start (openssl, 10 years, the host name and `localhost` as names) and kept. Staff check its
 * fingerprint (shown by `hindsight doctor` and `hindsight web status`) the first time their browser warns.
 */
export async function webCertificate(stateDir: string, configured: { cert_file: string; key_file: string }, openssl = 'openssl'): Promise<WebCertificate> {
  if (configured.cert_file || configured.key_file) {
    if (!configured.cert_file || !configured.key_file) throw new HindsightError('web.cert_file and web.key_file go together', { code: 'config', hint: 'set both, or neither for the box\'s own certificate' });
    return load(configured.cert_file, configured.key_file, false);
  }
  const own = selfSignedPaths(stateDir);
  if (!existsSync(own.cert) || !existsSync(own.key)) {
    mkdirSync(path.dirname(own.cert), { recursive: true, mode: 0o700 });
    const partial = { cert: `${own.cert}.partial`, key: `${own.key}.partial` };
    const host = os.hostname().replace(/[^A-Za-z0-9.-]/g, '') || 'hindsight';
    const r = await runCommand(
      openssl,
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-sha256', '-days', '3650', '-subj', `/CN=${host}/O=Hindsight box`, '-addext', `subjectAltName=DNS:${host},DNS:localhost,IP:127.0.0.1`, '-keyout', partial.key, '-out', partial.cert],
      { timeoutMs: 30_000 },
    ).catch((err: unknown) => ({ code: -1, stderr: String(err) }));
    if (r.code !== 0) {
      rmSync(partial.key, { force: true });
      rmSync(partial.cert, { force: true });
      throw new HindsightError(`could not make the web app's certificate: ${r.stderr.trim().split('\n').pop() ?? ''}`, { code: 'web_cert', hint: 'install openssl (apt-get install openssl), or set web.cert_file and web.key_file' });
    }
    chmodSync(partial.key, 0o600);
    renameSync(partial.key, own.key);
    renameSync(partial.cert, own.cert);
  }
  return load(own.cert, own.key, true);
}

function load(certFile: string, keyFile: string, selfSigned: boolean): WebCertificate {
  let cert: string;
  let key: string;
  try {
    cert = readFileSync(certFile, 'utf8');
    key = readFileSync(keyFile, 'utf8');
  } catch (err) {
    throw new HindsightError(`cannot read the web app's certificate: ${(err as Error).message}`, { code: 'web_cert', hint: 'check web.cert_file and web.key_file' });
  }
  return { cert, key, fingerprint: fingerprintOf(cert), selfSigned };
}

export function fingerprintOf(certPem: string): string {
  try {
    return new X509Certificate(certPem).fingerprint256;
  } catch {
    throw new HindsightError('the web app\'s certificate is not a PEM certificate', { code: 'web_cert', hint: 'web.cert_file must hold a PEM certificate' });
  }
}
