import net from 'node:net';
import tls from 'node:tls';
import { cameraProblem, type CameraProblem } from './ffmpeg-errors.js';
import type { CameraTarget } from './catalog.js';

const MAX_REPLY = 4096;

/**
 * One RTSP OPTIONS request (no credentials, no session) to see whether an RTSP server answers at all, before
 * ffmpeg is started. It tells a camera that is off (refused), frozen (connects, no answer) or not a camera
 * (answers something else) in milliseconds, where ffmpeg would wait for its timeout or read garbage for
 * minutes. Any RTSP status line counts as an answer: a 401 here is for ffmpeg, with credentials, to settle.
 */
export function rtspPreflight(target: CameraTarget, timeoutMs: number, signal?: AbortSignal): Promise<CameraProblem | undefined> {
  const { resolved } = target;
  const host = resolved.addresses[0]!;
  const timeoutS = Math.round(timeoutMs / 100) / 10;
  return new Promise((resolve) => {
    let connected = false;
    let reply = '';
    const socket: net.Socket =
      resolved.scheme === 'rtsps'
        ? tls.connect({ host, port: resolved.port, rejectUnauthorized: false, servername: net.isIP(resolved.host) ? undefined : resolved.host }, () => send())
        : net.connect({ host, port: resolved.port }, () => send());
    const finish = (problem: CameraProblem | undefined): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(problem);
    };
    const timer = setTimeout(() => finish(cameraProblem(connected ? 'silent' : 'timeout', timeoutS)), timeoutMs);
    // the caller is stopping: give up at once (the answer no longer matters)
    const onAbort = (): void => finish(cameraProblem('timeout', timeoutS));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    function send(): void {
      connected = true;
      // the stored URL (no credentials) with the checked address, exactly as ffmpeg will ask
      const url = `${resolved.scheme}://${net.isIPv6(host) ? `[${host}]` : host}:${resolved.port}${resolved.pathAndQuery}`;
      socket.write(`OPTIONS ${url} RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: hindsight\r\n\r\n`);
    }
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      if (reply.length >= 8) finish(reply.startsWith('RTSP/1.') ? undefined : cameraProblem('not_rtsp', timeoutS));
      else if (reply.length > MAX_REPLY) finish(cameraProblem('not_rtsp', timeoutS));
    });
    socket.on('end', () => finish(cameraProblem(reply.length ? 'not_rtsp' : 'closed', timeoutS)));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') finish(cameraProblem('refused', timeoutS));
      else if (err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH') finish(cameraProblem('unreachable', timeoutS));
      else if (err.code === 'ECONNRESET' || err.code === 'EPIPE') finish(cameraProblem(reply.length ? 'not_rtsp' : 'closed', timeoutS));
      else finish(cameraProblem('not_rtsp', timeoutS));
    });
  });
}
