import { explainFfmpegFailure, type CameraProblem } from '../cameras/ffmpeg-errors.js';
import type { RunEnd } from './run.js';
import type { RecorderSettings } from './settings.js';

/** Why a recording run ended, in the words `buffer status` shows (ffmpeg's own words when it said anything). */
export function explainRunEnd(end: RunEnd, s: RecorderSettings, secrets: readonly string[]): CameraProblem {
  if (end.refused) return end.refused;
  const said = end.stderr.trim() ? explainFfmpegFailure(end.stderr, s.rtspTimeoutS, secrets) : undefined;
  switch (end.cause) {
    case 'no_frames':
      if (end.frames > 0) return { code: 'timeout', transient: true, message: `the camera stopped sending video (nothing for ${s.rtspTimeoutS} s)`, hint: 'the recorder reconnects by itself' };
      return said ?? { code: 'timeout', transient: true, message: `the camera sent no video within ${2 * s.rtspTimeoutS + 5} s`, hint: 'check the camera with `hindsight camera test ID`' };
    case 'no_segments':
      return { code: 'unknown', transient: true, message: `no segment closed for ${s.stallTimeoutS} s (the camera's keyframe interval may be longer than recorder.stall_timeout_s)`, hint: "set the camera's I-frame interval to 1-2 s" };
    case 'cpu':
      return { code: 'unknown', transient: true, message: `ffmpeg used more than ${s.cpuPercent} % of a core and was restarted`, hint: 'check the camera stream with `hindsight camera test ID`' };
    default:
      if (said) return said;
      if (end.frames > 0) return { code: 'closed', transient: true, message: 'the camera closed the connection', hint: 'the recorder reconnects by itself' };
      return explainFfmpegFailure('', s.rtspTimeoutS);
  }
}
