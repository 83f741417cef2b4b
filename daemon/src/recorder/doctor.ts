import { accessSync, constants, statSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import type { CheckResult } from '../doctor/check.js';
import { programCheck } from '../kernel/doctor.js';
import { runCommand } from '../util/child.js';
import { sandboxed } from '../util/sandbox.js';

/** `hindsight doctor`: ffmpeg records and cuts the footage; ffprobe reads what a camera sends. */
export function ffmpegCheck({ config }: { config: Pick<Config, 'tools'> }): Promise<CheckResult> {
  return programCheck('ffmpeg', config.tools.ffmpeg, true, 'apt-get install ffmpeg');
}

export function ffprobeCheck({ config }: { config: Pick<Config, 'tools'> }): Promise<CheckResult> {
  return programCheck('ffprobe', config.tools.ffprobe, true, 'apt-get install ffmpeg');
}

const CHECK = 'video decoding (analysis)';
const FIX = 'install the VA-API driver (intel-media-va-driver or mesa-va-drivers), give the service the device (daemon/docs/face-pipeline.md, "Hardware decoding"), or set vision.hw_decode: off';

/**
 * `hindsight doctor`: where the analysis decodes video. With VA-API configured, the render node is there and
 * ffmpeg can open it (in the sandbox the decoders run in). Not required: a clip the GPU cannot decode is
 * decoded in software.
 */
export async function hwDecodeCheck({ config }: { config: Pick<Config, 'vision' | 'tools'> }): Promise<CheckResult> {
  const { hw_decode: mode, vaapi_device: device } = config.vision;
  if (mode === 'off') return { check: CHECK, state: 'ok', required: false, detail: 'in software (vision.hw_decode: off)' };
  const warn = (detail: string): CheckResult => ({ check: CHECK, state: 'warn', required: false, detail: `VA-API at ${device}: ${detail}; clips are decoded in software`, fix: FIX });
  try {
    if (!statSync(device).isCharacterDevice()) return warn('not a device');
    accessSync(device, constants.R_OK | constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return warn(code === 'ENOENT' ? 'no such device' : code === 'EACCES' ? 'the daemon\'s user may not open it (add it to the render group)' : (err as Error).message);
  }
  // one tiny frame up to the GPU: the device opens, a driver is found
  const r = await runCommand(...sandboxed(config.tools.sandbox, config.tools.ffmpeg, ['-hide_banner', '-nostdin', '-loglevel', 'error', '-init_hw_device', `vaapi=va:${device}`, '-f', 'lavfi', '-i', 'color=size=64x64:duration=0.04', '-vf', 'format=nv12,hwupload', '-filter_hw_device', 'va', '-f', 'null', '-'], { devices: [device] }), { timeoutMs: 20_000 });
  if (r.code !== 0) return warn(`ffmpeg cannot use it (${r.stderr.trim().split('\n').slice(-2).join(' ') || `exit ${r.code}`})`);
  return { check: CHECK, state: 'ok', required: false, detail: `VA-API at ${device}` };
}
