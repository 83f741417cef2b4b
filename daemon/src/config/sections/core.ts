import { Type } from '@sinclair/typebox';
import { oneOf, pathString, section } from '../schema-helpers.js';

export const DeviceSection = Type.Object(
  {
    id: Type.String({
      description: 'Device id given by the force at enrollment (letters, digits, "-" and "_"). Used in MQTT topics and evidence.',
      pattern: '^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$',
    }),
    store: Type.String({ description: 'Human name of the shop, shown to the force with each incident.', default: '', maxLength: 200 }),
  },
  { description: 'Who this box is.', additionalProperties: false },
);

export const PathsSection = section('Where the daemon keeps its state, buffer and evidence.', {
  state_dir: pathString('Folder for the database, keys and working files.', '/var/lib/hindsight'),
  buffer_dir: pathString('Folder for the rolling camera buffer; empty means <state_dir>/buffer.', ''),
  evidence_dir: pathString('Folder for incident master clips and crops; empty means <state_dir>/evidence.', ''),
  runtime_dir: pathString(
    "Folder for the control socket, its token and the callers' proof files (all made anew at each start); empty means <state_dir>. Under systemd: /run/hindsight (the unit's RuntimeDirectory).",
    '',
  ),
});

export const LogSection = section('Logging (JSON lines to stdout; journald keeps them).', {
  level: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const, { description: 'Lowest level written.', default: 'info' }),
  pretty: Type.Union([Type.Boolean(), Type.Literal('auto')], {
    description: 'Human-readable lines instead of JSON; "auto" means when stdout is a terminal.',
    default: 'auto',
  }),
});

export const ModelsSection = section('Face models (fetched by `hindsight models fetch`, pinned by SHA-256).', {
  dir: pathString('Folder holding the .onnx files and manifest.json; empty means the models/ folder of the installation.', ''),
});

export const ToolsSection = section('External programs.', {
  ffmpeg: Type.String({ description: 'ffmpeg executable.', default: 'ffmpeg', maxLength: 1024 }),
  ffprobe: Type.String({ description: 'ffprobe executable.', default: 'ffprobe', maxLength: 1024 }),
  sandbox: oneOf(['bwrap', 'off'] as const, {
    description:
      'How ffmpeg and ffprobe are started when they read a camera: "bwrap" in a bubblewrap sandbox that sees only the system programs and the folders of that job (not the keys, the control token, the config or the daemon); "off" with the daemon\'s own view of the files.',
    default: 'bwrap',
  }),
});

export const SystemdSection = section('Service manager integration.', {
  notify: Type.Boolean({ description: 'Send READY/WATCHDOG/STOPPING to systemd when NOTIFY_SOCKET is set.', default: true }),
});
