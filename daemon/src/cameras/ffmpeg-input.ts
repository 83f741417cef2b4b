import type { CameraInput } from './camera-input.js';
import type { CameraTarget } from './catalog.js';

/**
 * ffmpeg/ffprobe input options for a camera, shared by the recorder, `camera test` and `camera snapshot`.
 * The URL is always last so nothing after it can be read as an input option.
 */
export function rtspInputArgs(target: CameraTarget, input: CameraInput, timeoutS: number, options: { videoOnly?: boolean } = {}): string[] {
  return [
    // Only the network protocols RTSP needs: the URL cannot make ffmpeg read files, HTTP or anything else.
    // ffmpeg speaks plain RTSP to the relay on loopback; the relay holds any TLS to the camera.
    '-protocol_whitelist', 'tcp,udp,rtp',
    // TCP interleaving survives NAT and packet loss; UDP only when the camera cannot do TCP.
    '-rtsp_transport', target.camera.transport,
    // Socket I/O timeout (microseconds): without it ffmpeg waits forever on a silent camera.
    '-timeout', String(Math.round(timeoutS * 1e6)),
    // Do not SETUP audio tracks: the box keeps video only (audio in a shop adds privacy risk and no evidence value here).
    ...(options.videoOnly ? ['-allowed_media_types', 'video'] : []),
    // Forced demuxer: whatever the server answers is parsed as RTSP, never probed as another format.
    '-f', 'rtsp',
    '-i', input.url,
  ];
}
