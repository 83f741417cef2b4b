import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CONFIG_OPTION } from '../config-file.js';
import type { CameraCredentials } from '../../cameras/credentials.js';
import { cameraAdd, cameraRemove, cameraSnapshot, cameraTest, cameraUpdate } from '../../cameras/operations.js';
import type { CameraPatch } from '../../cameras/catalog.js';
import { CamerasRepo, type Camera, type Transport } from '../../db/repos/cameras.js';
import { UsageError } from '../../util/errors.js';
import { withCliDb } from '../open-db.js';
import { operate } from '../operate.js';
import { table, writeOutputFile } from '../../program/output.js';
import { intOption } from '../../program/args.js';
import { promptHidden } from '../../program/prompt.js';


interface CredentialOptions {
  username?: string;
  passwordStdin?: boolean;
  passwordFile?: string;
}

/** Passwords never come from the command line itself (it is visible to every user in the process list). */
async function readCredentials(o: CredentialOptions): Promise<CameraCredentials | undefined> {
  if (o.passwordStdin && o.passwordFile) throw new UsageError('give --password-stdin or --password-file, not both');
  if (!o.username) {
    if (o.passwordStdin || o.passwordFile) throw new UsageError('a password needs --username');
    return undefined;
  }
  if (!o.passwordStdin && !o.passwordFile) {
    throw new UsageError(`--username ${o.username} needs a password`, { hint: 'add --password-stdin (pipe it in, or type it when asked) or --password-file FILE' });
  }
  let password: string;
  try {
    if (o.passwordFile) password = readFileSync(o.passwordFile, 'utf8');
    else password = process.stdin.isTTY ? await promptHidden(`password for ${o.username}: `) : readFileSync(0, 'utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read the password: ${(err as Error).message}`, { hint: 'pipe it in with --password-stdin or name a readable file with --password-file' });
  }
  password = password.replace(/\r?\n$/, '');
  if (password.length === 0) throw new UsageError(`the password for ${o.username} is empty`, { hint: 'give the camera user\'s password (cameras with an empty password: omit --username)' });
  return { username: o.username, password };
}

function transportOf(value: string | undefined): Transport | undefined {
  if (value === undefined) return undefined;
  if (value !== 'tcp' && value !== 'udp') throw new UsageError(`--transport must be tcp or udp, not ${JSON.stringify(value)}`);
  return value;
}

function show(c: Camera): string {
  return `${c.id}  ${c.name}  ${c.url}  ${c.transport}${c.zone ? `  zone ${c.zone}` : ''}  ${c.enabled ? 'enabled' : 'disabled'}${c.hasCredentials ? '  (credentials stored)' : ''}`;
}

function addCredentialOptions(cmd: Command): Command {
  return cmd
    .option('--username <name>', 'RTSP username (stored encrypted, apart from the URL)')
    .option('--password-stdin', 'read the RTSP password from standard input')
    .option('--password-file <file>', 'read the RTSP password from a file');
}

export function registerCamera(program: Command): void {
  const camera = program.command('camera').description('register, change, test and remove cameras (the running daemon picks changes up by itself)');

  addCredentialOptions(
    camera
      .command('add')
      .description('register a camera and start recording it; the URL is checked against the camera networks')
      .requiredOption('--id <id>', 'short id (letters, digits, "-", "_"), e.g. till2')
      .requiredOption('--name <name>', 'name shown to staff, e.g. "Till 2"')
      .requiredOption('--url <url>', 'RTSP URL without credentials, e.g. rtsp://192.168.1.20:554/stream1')
      .option('--transport <tcp|udp>', 'RTP transport', 'tcp')
      .option('--zone <zone>', 'where it looks, e.g. "shop floor" (default: none)')
      .option('--disabled', 'register it without recording yet')
      .option(...CONFIG_OPTION),
  ).action(async (o: { id: string; name: string; url: string; transport: string; zone: string; disabled?: boolean; config?: string } & CredentialOptions) => {
    const credentials = await readCredentials(o);
    const { result } = await operate(o.config, cameraAdd, { id: o.id, name: o.name, url: o.url, transport: transportOf(o.transport), zone: o.zone ?? '', enabled: !o.disabled, credentials });
    process.stdout.write(`added ${show(result.camera)}\n`);
    if (!result.camera.enabled) process.stdout.write('it is disabled: enable it with `hindsight camera update ID --enable` to record it\n');
    else if (!result.recording) process.stdout.write('the daemon is not running: the camera is stored and will be recorded once the daemon runs (`systemctl start hindsight`)\n');
  });

  camera
    .command('list')
    .description('list the registered cameras (never their credentials)')
    .option('--json', 'print JSON')
    .option(...CONFIG_OPTION)
    .action(async (o: { json?: boolean; config?: string }) => {
      await withCliDb(o.config, (store) => {
        const cameras = new CamerasRepo(store.db).list();
        if (o.json) process.stdout.write(JSON.stringify(cameras, null, 2) + '\n');
        else if (cameras.length === 0) process.stdout.write('no cameras registered; add one with `hindsight camera add`\n');
        else
          process.stdout.write(
            table(
              ['ID', 'NAME', 'URL', 'TRANSPORT', 'ZONE', 'ENABLED', 'CREDENTIALS'],
              cameras.map((c) => [c.id, c.name, c.url, c.transport, c.zone, c.enabled ? 'yes' : 'no', c.hasCredentials ? 'stored' : 'none']),
            ),
          );
      }, { readonly: true });
    });

  addCredentialOptions(
    camera
      .command('update')
      .description('change a camera; only its own recorder restarts, and only when the URL, transport or credentials change')
      .argument('<id>', 'camera id')
      .option('--name <name>', 'new name')
      .option('--url <url>', 'new RTSP URL without credentials')
      .option('--transport <tcp|udp>', 'RTP transport')
      .option('--zone <zone>', 'new zone')
      .option('--enable', 'start recording it')
      .option('--disable', 'stop recording it (its footage stays until retention removes it)')
      .option('--clear-credentials', 'forget the stored username and password')
      .option(...CONFIG_OPTION),
  ).action(async (id: string, o: { name?: string; url?: string; transport?: string; zone?: string; enable?: boolean; disable?: boolean; clearCredentials?: boolean; config?: string } & CredentialOptions) => {
    if (o.enable && o.disable) throw new UsageError('give --enable or --disable, not both');
    const credentials = await readCredentials(o);
    if (credentials && o.clearCredentials) throw new UsageError('give new credentials or --clear-credentials, not both');
    const patch: CameraPatch = { name: o.name, url: o.url, transport: transportOf(o.transport), zone: o.zone, enabled: o.enable ? true : o.disable ? false : undefined };
    if (credentials) patch.credentials = credentials;
    if (o.clearCredentials) patch.credentials = null;
    const { result } = await operate(o.config, cameraUpdate, { id, patch });
    process.stdout.write(`updated ${show(result)}\n`);
  });

  camera
    .command('remove')
    .description('unregister a camera and stop recording it; its buffered footage stays until retention removes it')
    .argument('<id>', 'camera id')
    .option(...CONFIG_OPTION)
    .action(async (id: string, o: { config?: string }) => {
      const { result } = await operate(o.config, cameraRemove, { id });
      process.stdout.write(`removed camera ${result.id} (${result.name})\n`);
    });

  addCredentialOptions(
    camera
      .command('test')
      .description('connect to a camera and report codec, resolution, steady fps, keyframe interval and audio, or say in plain words what is wrong (exit 1 when it could not be recorded)')
      .argument('[id]', 'a registered camera')
      .option('--url <url>', 'test this URL instead of a registered camera')
      .option('--transport <tcp|udp>', 'RTP transport (with --url)', 'tcp')
      .option('--seconds <n>', 'how long to watch the stream', intOption('--seconds', 1, 60, 's'), 5)
      .option('--json', 'print JSON')
      .option(...CONFIG_OPTION),
  ).action(async (id: string | undefined, o: { url?: string; transport: string; seconds: number; json?: boolean; config?: string } & CredentialOptions) => {
    if (!id === !o.url) throw new UsageError('give a camera id or --url (one of them)');
    const seconds = o.seconds;
    const credentials = await readCredentials(o);
    const { result } = await operate(o.config, cameraTest, { id, url: o.url, transport: transportOf(o.transport), credentials, seconds });
    const label = `camera ${id ?? result.url}`;
    if (o.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    if (!result.ok) {
      if (!o.json) process.stdout.write(`${label}: ${result.problem.message}\n  what to do: ${result.problem.hint}\n`);
      process.exitCode = 1;
      return;
    }
    if (result.stream.problems.length) process.exitCode = 1;
    if (o.json) return;
    const s = result.stream;
    const lines = [
      s.problems.length ? `${label}: answers, but recording would fail` : `${label}: ok`,
      `  codec       ${s.codec}${s.profile ? ` (${s.profile})` : ''}`,
      `  resolution  ${s.width}x${s.height}`,
      `  fps         ${s.fps === null ? 'unknown' : s.fps.toFixed(1)}`,
      `  keyframes   ${s.keyframeIntervalS === null ? `fewer than two in ${seconds} s` : `every ${s.keyframeIntervalS.toFixed(1)} s`}`,
      `  bitrate     ${s.bitrateKbps === null ? 'unknown' : `${Math.round(s.bitrateKbps)} kbit/s`}`,
      `  audio       ${s.audio === null ? 'none' : `present (${s.audio}), not recorded: the box keeps video only`}`,
      ...s.problems.map((p) => `  problem: ${p}`),
      ...s.advice.map((a) => `  advice: ${a}`),
    ];
    process.stdout.write(lines.join('\n') + '\n');
  });

  camera
    .command('snapshot')
    .description('save one current frame of a camera as a JPEG (to check its view; audited as a consultation)')
    .argument('<id>', 'camera id')
    .requiredOption('-o, --out <file>', 'JPEG file to write')
    .option('--reason <text>', 'why you look (kept in the audit log)')
    .option(...CONFIG_OPTION)
    .action(async (id: string, o: { out: string; reason?: string; config?: string }) => {
      const { result } = await operate(o.config, cameraSnapshot, { id, reason: o.reason });
      writeOutputFile(o.out, Buffer.from(result.jpegBase64, 'base64'));
      process.stdout.write(`wrote ${o.out}\n`);
    });
}
