import { HindsightError } from '../util/errors.js';
import { cameraProblem, type CameraProblem } from './ffmpeg-errors.js';
import { relayHost } from './relay-host.js';
import type { RelayRefusal } from './rtsp-relay.js';
import type { CameraTarget } from './catalog.js';

/** What an ffmpeg or ffprobe of a camera reads: a relay on loopback, open for that one child. */
export interface CameraInput {
  /** The URL to give the child (no credentials in it). */
  url: string;
  /** Close the relay; resolves to what it refused on the box's behalf (a redirect), the true reason a read failed. */
  close(): Promise<CameraProblem | undefined>;
}

const asProblem = (r: RelayRefusal | undefined): CameraProblem | undefined => (r ? { ...cameraProblem('redirected', 0), message: r.message } : undefined);

/**
 * Open the relay a child process reads a camera through (rtsp-relay.ts, in the relay process): credentials never
 * reach the child's argv or environment, it reaches only the checked address, and redirects are refused.
 */
export async function openCameraInput(target: CameraTarget): Promise<CameraInput> {
  const { resolved, credentials } = target;
  const host = relayHost();
  if (resolved.scheme !== 'rtsp') throw new HindsightError(`${resolved.scheme}:// cameras are not supported`, { code: 'not_rtsp', hint: 'use the camera\'s rtsp:// address' });
  const { id, url } = await host.open({ address: resolved.addresses[0]!, port: resolved.port, credentials }, resolved.pathAndQuery);
  return { url, close: async () => asProblem(await host.close(id)) };
}

/** Run `fn` with the camera's input open and close it after, whatever happens; `refused` is the relay's reason. */
export async function withCameraInput<T>(target: CameraTarget, fn: (input: CameraInput) => Promise<T>): Promise<{ result: T; refused: CameraProblem | undefined }> {
  const input = await openCameraInput(target);
  let result: T;
  try {
    result = await fn(input);
  } catch (err) {
    await input.close();
    throw err;
  }
  return { result, refused: await input.close() };
}
