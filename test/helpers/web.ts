import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { TestProcess } from './process.js';

export { WebClient, type WebAnswer } from '../../daemon/src/devkit/web-client.js';

/** The web app's port and setup code from a daemon's log, and its certificate from the state folder. */
export async function webOf(daemon: TestProcess, stateDir: string): Promise<{ port: number; ca: string; setupCode: string | undefined }> {
  const m = await daemon.waitForLine(/"msg":"web app at [^"]*:(\d+)\//, 30_000);
  const port = Number(m[1]);
  // the setup code (while there is no manager) is said right after
  await daemon.waitForLine(/"service":"web","msg":"service started"/, 30_000);
  const code = daemon.lines.map((l) => /"setup_code":"([0-9-]+)"/.exec(l)?.[1]).find((c) => c);
  return { port, ca: readFileSync(path.join(stateDir, 'web', 'cert.pem'), 'utf8'), setupCode: code };
}

/** Web config for a test daemon: this machine only, a free port. */
export const WEB_TEST_CONFIG = { web: { enabled: true, host: '127.0.0.1', port: 0 } };
