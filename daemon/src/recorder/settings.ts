import type { Config } from '../config/schema.js';
import type { SandboxMode } from '../util/sandbox.js';

/** The recorder's numbers, in the units the code uses; all come from the config (sections/recorder.ts). */
export interface RecorderSettings {
  ffmpeg: string;
  ffprobe: string;
  /** How ffmpeg is started (util/sandbox.ts). */
  sandbox: SandboxMode;
  segmentSeconds: number;
  rtspTimeoutS: number;
  stallTimeoutS: number;
  restartInitialMs: number;
  restartMaxMs: number;
  reachabilityPollMs: number;
  memoryMb: number;
  cpuPercent: number;
  statusIntervalMs: number;
  reloadPollMs: number;
  /** Once trusted, one decode check of a camera's segments per this long (0: no decode checks). */
  decodeCheckIntervalMs: number;
  /** Free space on the buffer's disk below which recording pauses (0: never). */
  recordingReserveBytes: number;
}

export function recorderSettings(config: Config): RecorderSettings {
  const r = config.recorder;
  return {
    ffmpeg: config.tools.ffmpeg,
    ffprobe: config.tools.ffprobe,
    sandbox: config.tools.sandbox,
    segmentSeconds: r.segment_seconds,
    rtspTimeoutS: r.rtsp_timeout_s,
    stallTimeoutS: r.stall_timeout_s,
    restartInitialMs: r.restart_initial_s * 1000,
    restartMaxMs: r.restart_max_s * 1000,
    reachabilityPollMs: r.reachability_poll_s * 1000,
    memoryMb: r.ffmpeg_memory_mb,
    cpuPercent: r.ffmpeg_cpu_percent,
    statusIntervalMs: r.status_interval_s * 1000,
    reloadPollMs: r.reload_poll_s * 1000,
    decodeCheckIntervalMs: r.decode_check_interval_s * 1000,
    recordingReserveBytes: config.buffer.recording_reserve_mb * 1024 * 1024,
  };
}
