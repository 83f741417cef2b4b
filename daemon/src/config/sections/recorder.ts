import { Type } from '@sinclair/typebox';
import { integer, number, pathString, section } from '../schema-helpers.js';

/** Private (RFC 1918) and unique-local IPv6 networks: where shop cameras normally live. */
export const DEFAULT_CAMERA_NETWORKS = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'];

export const CamerasSection = section('The camera registry: which addresses cameras may have and how their credentials are kept.', {
  networks: Type.Array(Type.String({ maxLength: 64 }), {
    description:
      'Networks (CIDR) a camera address must be inside, checked after DNS resolution. Loopback, link-local, ' +
      'multicast and unspecified addresses are refused unless a network listed here lies inside that range ' +
      '(e.g. 127.0.0.0/8 for a test camera on the box itself).',
    default: DEFAULT_CAMERA_NETWORKS,
    maxItems: 64,
  }),
  credentials_key_file: pathString(
    'AES-256 key file (64 hex characters, mode 0600) that seals camera passwords at rest. Empty means the systemd ' +
      'credential "camera-credentials.key" when $CREDENTIALS_DIRECTORY has it, else <state_dir>/camera-credentials.key ' +
      '(created on first use).',
    '',
  ),
  probe_timeout_s: integer('How long `camera test` and `camera snapshot` wait for a camera to answer.', 10, 1, 120),
  discovery_multicast: Type.Boolean({ description: 'Find ONVIF cameras with a WS-Discovery probe to the multicast group 239.255.255.250:3702 on the local network.', default: true }),
  discovery_targets: Type.Array(Type.String({ maxLength: 80, pattern: '^[0-9A-Fa-f.:\\[\\]]+:[0-9]{1,5}$' }), {
    description: 'Also send the discovery probe to these "address:port" (cameras on another subnet, where multicast does not reach). Answers are kept only from inside the camera networks.',
    default: [],
    maxItems: 64,
  }),
  discovery_wait_ms: integer('How long discovery waits for cameras to answer.', 2000, 200, 10_000),
});

export const RecorderSection = section('The rolling recorder: one ffmpeg per enabled camera, stream copy into MPEG-TS segments.', {
  segment_seconds: integer('Target segment length. Segments cut on keyframes, so a segment lasts at least one keyframe interval of the camera.', 4, 1, 60),
  rtsp_timeout_s: Type.Integer({
    description:
      'A camera that sends no video for this long is treated as stalled: ffmpeg gets it as its socket timeout and the ' +
      'recorder restarts a run whose frame count stops growing for this long.',
    default: 10,
    minimum: 1,
    maximum: 120,
  }),
  stall_timeout_s: integer('Restart a run that has closed no segment for this long (frames may flow while the segmenter is stuck). Keep it above the longest keyframe interval.', 30, 2, 600),
  restart_initial_s: number('First delay before restarting ffmpeg after it exits; doubles on each failed attempt.', 1, 0.1, 60),
  restart_max_s: number('Cap of the restart delay (a jitter of +-20 % is added so cameras do not restart in step).', 30, 1, 3600),
  reachability_poll_s: number('While no RTSP server answers at a camera\'s address, how often one RTSP OPTIONS request checks whether it is back (much cheaper than starting ffmpeg).', 1, 0.2, 60),
  ffmpeg_memory_mb: integer('Address-space limit (virtual memory, shared libraries included: about 450 MB at rest) of each recording ffmpeg; a runaway process fails its allocations, exits and is restarted.', 1024, 600, 8192),
  ffmpeg_cpu_percent: integer('Restart a recording ffmpeg that uses more than this share of one core over a status period (stream copy needs about 1 %).', 50, 5, 400),
  status_interval_s: integer('How often per-camera fps, bitrate and segment age are refreshed in the database (for `buffer status` and the UI).', 5, 1, 300),
  decode_check_interval_s: number(
    "Decode checks: after each start of recording (and after a failed check) every new segment's first keyframe is " +
      "test-decoded until 3 in a row decode, then one segment per this interval. A camera whose video does not decode " +
      "is shown as `undecodable` with an alarm; footage that turns to garbage later is caught within about this interval " +
      "plus two segments. The checks of all cameras share one nice'd ffmpeg per round. 0 turns the checks off.",
    60,
    0,
    3600,
  ),
  reload_poll_s: number('How often the daemon checks the database for camera changes made by the CLI or the web UI.', 2, 0.2, 60),
});

export const BufferSection = section('The rolling buffer on disk: how much footage is kept and when it is deleted.', {
  hours: number('Keep footage this long (by segment time), per camera; the force may set a lower maximum.', 24, 0.01, 720),
  quota_gb: Type.Number({ description: 'Disk quota of the whole buffer; oldest unlocked footage is deleted first when it is exceeded. 0 means no quota (only hours and min_free_gb).', default: 0, minimum: 0 }),
  min_free_gb: Type.Number({ description: 'Delete oldest unlocked footage while the disk holding the buffer has less free space than this.', default: 2, minimum: 0 }),
  retention_interval_s: integer('How often retention and quota are enforced.', 30, 1, 3600),
  max_lock_days: integer('Longest evidence lock an operator may take with `buffer lock` (its range, and how far ahead it may end): locked footage is never deleted, so an unbounded lock could fill the disk.', 31, 1, 366),
  recording_reserve_mb: Type.Number({
    description:
      'Recording pauses (reason "disk full", alarm recorder.disk_full) while the disk holding the buffer has less free space ' +
      'than this, so the database on the same disk can still record why; it resumes by itself when space returns. Keep it ' +
      'well below min_free_gb, which makes retention free space first. 0 turns the pause off.',
    default: 256,
    minimum: 0,
  }),
});
