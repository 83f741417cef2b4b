import type { Config } from '../config/schema.js';
import type { CheckResult } from '../doctor/check.js';
import { programCheck } from '../kernel/doctor.js';

/** `hindsight doctor`: ffmpeg records and cuts the footage; ffprobe reads what a camera sends. */
export function ffmpegCheck({ config }: { config: Pick<Config, 'tools'> }): Promise<CheckResult> {
  return programCheck('ffmpeg', config.tools.ffmpeg, true, 'apt-get install ffmpeg');
}

export function ffprobeCheck({ config }: { config: Pick<Config, 'tools'> }): Promise<CheckResult> {
  return programCheck('ffprobe', config.tools.ffprobe, true, 'apt-get install ffmpeg');
}
