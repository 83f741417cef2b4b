import { readFileSync } from 'node:fs';
import http from 'node:http';
import { HindsightError } from '../util/errors.js';
import { controlPaths } from './paths.js';
import { makePeerProof, PEER_HEADER } from './peer.js';
import { routeUrl, type ControlRoute, type RouteRequest } from './route.js';

export class ControlError extends HindsightError {
  constructor(
    message: string,
    readonly status: number,
    options: { hint?: string; code?: string } = {},
  ) {
    super(message, options);
  }
}

/** Call one route of the running daemon's control API, typed by its description (for the CLI). */
export function callRoute<Req extends RouteRequest, Res>(runtimeDir: string, route: ControlRoute<Req, Res>, call: Req): Promise<Res> {
  return controlRequest<Res>(runtimeDir, route.method, routeUrl(route, call), call.body);
}

/** Call the running daemon's control API by method and path. Throws ControlError with the daemon's message. */
export async function controlRequest<T>(runtimeDir: string, method: 'GET' | 'POST', urlPath: string, body?: unknown): Promise<T> {
  const { socket, token: tokenFile } = controlPaths(runtimeDir);
  let token: string;
  try {
    token = readFileSync(tokenFile, 'utf8').trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES') throw new HindsightError(`permission denied reading ${tokenFile}`, { code: 'forbidden', hint: 'run the command as root or as the hindsight user' });
    throw notRunning(socket);
  }
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  let proof: ReturnType<typeof makePeerProof>;
  try {
    proof = makePeerProof(runtimeDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notRunning(socket);
    throw err;
  }
  return new Promise<T>((resolve, reject) => {
    const req = http.request(
      {
        socketPath: socket,
        method,
        path: urlPath,
        headers: { authorization: `Bearer ${token}`, [PEER_HEADER]: proof.name, ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}) },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: { error?: string; message?: string; hint?: string } & Record<string, unknown>;
          try {
            json = JSON.parse(text) as typeof json;
          } catch {
            return reject(new ControlError(`the daemon answered ${res.statusCode} with something unexpected`, res.statusCode ?? 0));
          }
          if ((res.statusCode ?? 500) >= 400) {
            return reject(new ControlError(json.message ?? `error ${res.statusCode}`, res.statusCode ?? 500, { hint: json.hint, code: json.error }));
          }
          resolve(json as T);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') reject(notRunning(socket));
      else if (err.code === 'EACCES') reject(new HindsightError(`permission denied on ${socket}`, { code: 'forbidden', hint: 'run the command as root or as the hindsight user' }));
      else reject(new HindsightError(`cannot reach the daemon: ${err.message}`, { code: 'unreachable' }));
    });
    req.end(payload);
  }).finally(() => proof.remove());
}

function notRunning(socket: string): HindsightError {
  return new HindsightError(`the Hindsight daemon is not running (no control socket at ${socket})`, {
    code: 'daemon_not_running',
    hint: 'start it (`systemctl start hindsight`, or `hindsight run --config FILE`), then try again',
  });
}
