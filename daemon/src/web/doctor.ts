import { existsSync, readFileSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import type { DaemonPaths } from '../config/paths.js';
import type { CheckResult } from '../doctor/check.js';
import { fingerprintOf, selfSignedPaths } from '../https/tls.js';

/** The web app's certificate file in use, or undefined before the box made its own. */
export function webCertFile(config: Config, paths: Pick<DaemonPaths, 'stateDir'>): string | undefined {
  const file = config.web.cert_file || selfSignedPaths(paths.stateDir).cert;
  return existsSync(file) ? file : undefined;
}

/** SHA-256 fingerprint of the web app's certificate, as a browser shows it (undefined: not made yet). */
export function webFingerprint(config: Config, paths: Pick<DaemonPaths, 'stateDir'>): string | undefined {
  const file = webCertFile(config, paths);
  return file ? fingerprintOf(readFileSync(file, 'utf8')) : undefined;
}

/** `hindsight doctor`: the web app's address and certificate fingerprint (what staff compare in the browser). */
export function webCheck({ config, paths }: { config: Config; paths: Pick<DaemonPaths, 'stateDir'> }): CheckResult {
  const web = config.web;
  if (!web.enabled) return { check: 'web app', state: 'ok', required: false, detail: 'off (web.enabled: false)' };
  try {
    const fp = webFingerprint(config, paths);
    return { check: 'web app', state: 'ok', required: false, detail: `https port ${web.port}; certificate SHA-256 ${fp ?? '(made at the first start)'}` };
  } catch (err) {
    return { check: 'web app', state: 'warn', required: false, detail: (err as Error).message, fix: 'set web.cert_file and web.key_file to a PEM certificate and key, or empty them for the box\'s own' };
  }
}
