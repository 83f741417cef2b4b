import { redactString } from '../log/redact.js';

export type CameraProblemCode =
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'refused'
  | 'timeout'
  | 'silent'
  | 'unreachable'
  | 'not_rtsp'
  | 'no_video'
  | 'closed'
  | 'redirected'
  | 'disk_full'
  | 'out_of_memory'
  | 'unknown';

export interface CameraProblem {
  code: CameraProblemCode;
  /** Plain words for a shop manager. */
  message: string;
  /** What to do about it. */
  hint: string;
  /** Whether waiting can fix it (the camera may come back) or a person must act (wrong password, wrong path). */
  transient: boolean;
}

type Known = Exclude<CameraProblemCode, 'unknown'>;

const PROBLEMS: Record<Known, { transient: boolean; message: (timeoutS: number) => string; hint: string }> = {
  unauthorized: { transient: false, message: () => 'the camera refused the username or password (RTSP 401)', hint: 'check the credentials: hindsight camera update ID --username USER --password-stdin' },
  forbidden: { transient: false, message: () => 'the camera forbids this user to view the stream (RTSP 403)', hint: 'give the user "view" rights in the camera\'s web page' },
  not_found: { transient: false, message: () => 'the camera has no stream at this path (RTSP 404)', hint: 'check the stream path in the URL (the camera\'s manual lists it)' },
  refused: { transient: true, message: () => 'the camera refused the connection (nothing answers on that port)', hint: 'check that the camera is powered and the port is right (RTSP is usually 554)' },
  timeout: { transient: true, message: (t) => `the camera did not answer within ${t} s`, hint: 'check the camera is powered and on the network; a busy camera may need fewer viewers' },
  silent: { transient: true, message: (t) => `the camera accepts connections but does not answer (waited ${t} s)`, hint: 'the camera may be frozen: power-cycle it if this lasts' },
  unreachable: { transient: true, message: () => 'the camera cannot be reached on the network', hint: 'check cables, the switch and the camera\'s address' },
  no_video: { transient: false, message: () => 'the stream has no video track', hint: 'choose the camera\'s video stream path (not an audio-only or metadata stream)' },
  not_rtsp: { transient: true, message: () => 'what answers on that port is not a working RTSP camera stream', hint: 'check the port and path of the URL; open the camera\'s web page to find its RTSP address' },
  redirected: { transient: false, message: () => 'the camera redirected to another address; the box refuses redirects', hint: 'set the camera URL to the address that serves the stream (the camera\'s manual or web page gives it)' },
  closed: { transient: true, message: () => 'the camera closed the connection', hint: 'the recorder reconnects by itself; if this repeats, check the camera\'s stream limits' },
  disk_full: { transient: true, message: () => 'disk full: ffmpeg could not write to the buffer disk', hint: 'retention frees space; check buffer.quota_gb and what else fills the disk' },
  out_of_memory: { transient: true, message: () => 'ffmpeg ran out of memory (limit recorder.ffmpeg_memory_mb)', hint: 'raise recorder.ffmpeg_memory_mb if the camera streams very large frames' },
};

/** The standard description of a known problem. */
export function cameraProblem(code: Known, timeoutS: number): CameraProblem {
  const p = PROBLEMS[code];
  return { code, transient: p.transient, message: p.message(timeoutS), hint: p.hint };
}

/** What ffmpeg 5.1 prints for each problem (first match wins: 401 before the generic "method failed: 4xx"). */
const RULES: [RegExp, Known][] = [
  [/401 Unauthorized|authorization failed/i, 'unauthorized'],
  [/403 Forbidden/i, 'forbidden'],
  // with only video SETUP, a PLAY without a session means the stream had no video track to set up
  [/method PLAY failed: 454/i, 'no_video'],
  [/404 Not Found|454 Session Not Found/i, 'not_found'],
  [/Connection refused/i, 'refused'],
  [/timed out|Timeout/i, 'timeout'],
  [/No route to host|Network is unreachable|Host is unreachable/i, 'unreachable'],
  [/does not contain any stream|matches no streams|no video/i, 'no_video'],
  [/Invalid data found|CSeq \d+ expected|method \w+ failed: 4\d\d|nonmatching transport|Unsupported|invalid RTSP|bad request/i, 'not_rtsp'],
  [/No space left on device/i, 'disk_full'],
  [/Cannot allocate memory|out of memory/i, 'out_of_memory'],
  [/Connection reset|End of file|Broken pipe/i, 'closed'],
];

/**
 * Turn ffmpeg/ffprobe stderr into one plain-words problem. `secrets` are scrubbed from the fallback text as well
 * as URL userinfo, so a password never reaches a log, a status or an error.
 */
export function explainFfmpegFailure(stderr: string, timeoutS: number, secrets: readonly string[] = []): CameraProblem {
  for (const [re, code] of RULES) if (re.test(stderr)) return cameraProblem(code, timeoutS);
  const last = scrubSecrets(stderr, secrets).trim().split('\n').filter(Boolean).pop() ?? '';
  return { code: 'unknown', transient: true, message: last ? `ffmpeg stopped: ${last.slice(0, 200)}` : 'ffmpeg stopped without saying why', hint: 'the recorder retries by itself; `hindsight camera test ID` shows what the camera answers' };
}

/** Remove URL userinfo and the literal secrets from text that came from ffmpeg. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = redactString(text);
  for (const s of secrets) if (s) out = out.split(s).join('***');
  return out;
}
