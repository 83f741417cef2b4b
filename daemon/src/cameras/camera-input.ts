import { cameraProblem, type CameraProblem } from './ffmpeg-errors.js';
import { RtspRelay } from './rtsp-relay.js';
import type { CameraTarget } from './service.js';

/** What an ffmpeg or ffprobe of a camera reads: the relay on loopback, open for that one child. */
export interface CameraInput {
  /** The URL to give the child (no credentials in it). */
  url: string;
  /** What the relay refused on the box's behalf (a redirect), to report instead of the child's own error. */
  problem(): CameraProblem | undefined;
  close(): void;
}

/**
 * Open the relay a child process reads a camera through (rtsp-relay.ts): credentials never reach the child's
 * argv or environment, it reaches only the checked address, and redirects are refused.
 */
export async function openCameraInput(target: CameraTarget): Promise<CameraInput> {
  const { resolved, credentials } = target;
  const relay = await RtspRelay.open(
    { scheme: resolved.scheme, address: resolved.addresses[0]!, port: resolved.port, servername: resolved.host, credentials },
    resolved.pathAndQuery,
  );
  return {
    url: relay.url,
    problem: () => (relay.refusal ? { ...cameraProblem('redirected', 0), message: relay.refusal.message } : undefined),
    close: () => relay.close(),
  };
}

/** Run `fn` with the camera's input open, and close it after, whatever happens. */
export async function withCameraInput<T>(target: CameraTarget, fn: (input: CameraInput) => Promise<T>): Promise<T> {
  const input = await openCameraInput(target);
  try {
    return await fn(input);
  } finally {
    input.close();
  }
}
