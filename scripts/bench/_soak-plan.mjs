// The soak's schedule: how long it runs, when each incident is logged, when the camera outage and the broker
// restart happen, how often it samples. A shorter run (`--minutes N`) keeps the same shape: every event sits at
// the same fraction of the run, and the buffer shrinks with it so retention still cycles as many times.

export const FULL_MINUTES = 120;
export const FULL_BUFFER_MINUTES = 10;
export const MIN_MINUTES = 6;
export const MAX_MINUTES = 24 * 60;
/** Setup before the run (encode, keys, cameras, daemon) and the wait for the last receipts and teardown after it. */
export const GRACE_MINUTES = 5;
export const INCIDENTS = 20;
export const CAMERAS = 8;
export const CAMERAS_PER_INCIDENT = 2;
export const WINDOW_BEFORE_S = 30;

const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));

const USAGE =
  'the soak takes --minutes N (run length, default 120; or HINDSIGHT_BENCH_SOAK_MINUTES) and --buffer-minutes N ' +
  '(buffer length, default 10 at 120 minutes and scaled with the run; or HINDSIGHT_BENCH_SOAK_BUFFER_MINUTES)';

function numberOption(name, raw, min, max) {
  const n = typeof raw === 'number' ? raw : Number(String(raw).trim());
  if (String(raw).trim() === '' || !Number.isFinite(n)) throw new Error(`soak: ${name} must be a number of minutes, got "${raw}"; ${USAGE}`);
  if (n < min || n > max) throw new Error(`soak: ${name} must be between ${min} and ${max} minutes, got ${n}; ${USAGE}`);
  return n;
}

/**
 * The plan of one soak run from the command line options (`{minutes, 'buffer-minutes'}` as strings) and the
 * environment. Times are seconds from the start of the run (the daemon up, every camera added).
 */
export function soakPlan(options = {}, env = process.env) {
  for (const key of Object.keys(options)) {
    if (key !== 'minutes' && key !== 'buffer-minutes') throw new Error(`soak: unknown option --${key}; ${USAGE}`);
  }
  const minutes = numberOption('--minutes', options.minutes ?? env.HINDSIGHT_BENCH_SOAK_MINUTES ?? FULL_MINUTES, MIN_MINUTES, MAX_MINUTES);
  const scaledBuffer = Math.max(1, Math.round((FULL_BUFFER_MINUTES * minutes) / FULL_MINUTES * 10) / 10);
  const bufferMinutes = numberOption('--buffer-minutes', options['buffer-minutes'] ?? env.HINDSIGHT_BENCH_SOAK_BUFFER_MINUTES ?? scaledBuffer, 1, minutes / 2);
  const totalS = minutes * 60;
  // past the relay's unpaced start (30 s) and the daemon's start-up work; nothing is compared before it
  const warmupS = clamp(0.1 * totalS, 60, 300);
  // the last incident is logged this long before the end, so it is delivered inside the run
  const tailS = clamp(0.08 * totalS, 120, 600);
  const spanS = totalS - warmupS - tailS;
  const incidents = Array.from({ length: INCIDENTS }, (_, i) => ({
    atS: Math.round(warmupS + ((i + 0.5) * spanS) / INCIDENTS),
    cameras: Array.from({ length: CAMERAS_PER_INCIDENT }, (_, k) => `cam${((CAMERAS_PER_INCIDENT * i + k) % CAMERAS) + 1}`),
  }));
  // the daemon's incident rate limits would refuse a shortened run's pace; twice the pace is allowed
  const perHour = clamp(Math.ceil((2 * INCIDENTS * 3600) / spanS), 30, 1000);
  return {
    minutes,
    bufferMinutes,
    totalS,
    warmupS,
    tailS,
    sampleS: clamp(totalS / 48, 10, 30),
    incidents,
    windowBeforeS: WINDOW_BEFORE_S,
    incidentsPerHourLimit: perHour,
    outage: { camera: `cam${CAMERAS}`, atS: Math.round(0.35 * totalS), downS: Math.round(clamp(0.025 * totalS, 30, 180)) },
    brokerRestart: { atS: Math.round(0.6 * totalS), downS: Math.round(clamp(0.01 * totalS, 20, 90)) },
    graceS: GRACE_MINUTES * 60,
    /** The whole benchmark, setup and teardown included, never runs longer than this. */
    boundS: totalS + GRACE_MINUTES * 60,
  };
}
