import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CONFIG_OPTION } from '../config-file.js';
import type { CameraCredentials } from '../../cameras/credentials.js';
import { probeCamera, snapshotCamera } from '../../cameras/probe.js';
import { CameraService, type CameraPatch } from '../../cameras/service.js';
import type { Camera, Transport } from '../../store/repos/cameras.js';
import { HindsightError, UsageError } from '../../util/errors.js';
import { withCliStore, type CliStore } from '../open-store.js';
import { table } from '../output.js';


interface CredentialOptions {
  username?: string;
  passwordStdin?: boolean;
  passwordFile?: string;
}

/** Passwords never come from the command line itself (it is visible to every user in the process list). */
function readCredentials(o: CredentialOptions): CameraCredentials | undefined {
  if (o.passwordStdin && o.passwordFile) throw new UsageError('give --password-stdin or --password-file, not both');
  if (!o.username) {
    if (o.passwordStdin || o.passwordFile) throw new UsageError('a password needs --username');
    return undefined;
  }
  let password = '';
  try {
    if (o.passwordStdin) password = readFileSync(0, 'utf8');
    else if (o.passwordFile) password = readFileSync(o.passwordFile, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read the password: ${(err as Error).message}`, { hint: 'pipe it in with --password-stdin or name a readable file with --password-file' });
  }
  return { username: o.username, password: password.replace(/\r?\n$/, '') };
}

function service(store: CliStore): CameraService {
  return CameraService.fromConfig(store.config, store.paths.stateDir, store);
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
      .option('--zone <zone>', 'where it looks, e.g. "shop floor"', '')
      .option('--disabled', 'register it without recording yet')
      .option(...CONFIG_OPTION),
  ).action(async (o: { id: string; name: string; url: string; transport: string; zone: string; disabled?: boolean; config?: string } & CredentialOptions) => {
    const credentials = readCredentials(o);
    await withCliStore(o.config, async (store) => {
      const c = await service(store).add({ id: o.id, name: o.name, url: o.url, transport: transportOf(o.transport), zone: o.zone, enabled: !o.disabled, credentials }, store.actor);
      process.stdout.write(`added ${show(c)}\n`);
    });
  });

  camera
    .command('list')
    .description('list the registered cameras (never their credentials)')
    .option('--json', 'print JSON')
    .option(...CONFIG_OPTION)
    .action(async (o: { json?: boolean; config?: string }) => {
      await withCliStore(o.config, (store) => {
        const cameras = service(store).list();
        if (o.json) process.stdout.write(JSON.stringify(cameras, null, 2) + '\n');
        else if (cameras.length === 0) process.stdout.write('no cameras registered; add one with `hindsight camera add`\n');
        else
          process.stdout.write(
            table(
              ['ID', 'NAME', 'URL', 'TRANSPORT', 'ZONE', 'ENABLED', 'CREDENTIALS'],
              cameras.map((c) => [c.id, c.name, c.url, c.transport, c.zone, c.enabled ? 'yes' : 'no', c.hasCredentials ? 'stored' : 'none']),
            ),
          );
      });
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
    const credentials = readCredentials(o);
    if (credentials && o.clearCredentials) throw new UsageError('give new credentials or --clear-credentials, not both');
    const patch: CameraPatch = { name: o.name, url: o.url, transport: transportOf(o.transport), zone: o.zone, enabled: o.enable ? true : o.disable ? false : undefined };
    if (credentials) patch.credentials = credentials;
    if (o.clearCredentials) patch.credentials = null;
    await withCliStore(o.config, async (store) => {
      const c = await service(store).update(id, patch, store.actor);
      process.stdout.write(`updated ${show(c)}\n`);
    });
  });

  camera
    .command('remove')
    .description('unregister a camera and stop recording it; its buffered footage stays until retention removes it')
    .argument('<id>', 'camera id')
    .option(...CONFIG_OPTION)
    .action(async (id: string, o: { config?: string }) => {
      await withCliStore(o.config, (store) => {
        const c = service(store).remove(id, store.actor);
        process.stdout.write(`removed camera ${c.id} (${c.name})\n`);
      });
    });

  addCredentialOptions(
    camera
      .command('test')
      .description('connect to a camera and report codec, resolution, fps and keyframe interval, or say in plain words what is wrong')
      .argument('[id]', 'a registered camera')
      .option('--url <url>', 'test this URL instead of a registered camera')
      .option('--transport <tcp|udp>', 'RTP transport (with --url)', 'tcp')
      .option('--seconds <n>', 'how long to watch the stream', '5')
      .option('--json', 'print JSON')
      .option(...CONFIG_OPTION),
  ).action(async (id: string | undefined, o: { url?: string; transport: string; seconds: string; json?: boolean; config?: string } & CredentialOptions) => {
    if (!id === !o.url) throw new UsageError('give a camera id or --url (one of them)');
    const seconds = Number(o.seconds);
    if (!(seconds >= 1 && seconds <= 60)) throw new UsageError('--seconds must be between 1 and 60');
    const credentials = readCredentials(o);
    await withCliStore(o.config, async (store) => {
      const svc = service(store);
      const target = id
        ? await svc.target(id)
        : await svc.targetFor({ id: 'adhoc', name: 'ad hoc', url: o.url!, transport: transportOf(o.transport)!, zone: '', enabled: false, hasCredentials: Boolean(credentials), createdUtcMs: 0, updatedUtcMs: 0 }, o.url!, credentials);
      const result = await probeCamera(target, { ffprobe: store.config.tools.ffprobe, timeoutS: store.config.cameras.probe_timeout_s, seconds });
      store.audit.append({ actor: store.actor, action: 'camera.tested', objectIds: id ? [id] : [], result: result.ok ? 'ok' : 'error', detail: { url: target.resolved.url, ...(result.ok ? {} : { problem: result.problem.code }) } });
      const label = `camera ${id ?? target.resolved.url}`;
      if (o.json) process.stdout.write(JSON.stringify({ camera: id ?? null, url: target.resolved.url, ...result }, null, 2) + '\n');
      if (!result.ok) {
        if (!o.json) process.stdout.write(`${label}: ${result.problem.message}\n  what to do: ${result.problem.hint}\n`);
        process.exitCode = 1;
        return;
      }
      if (o.json) return;
      const s = result.stream;
      const lines = [
        `${label}: ok`,
        `  codec       ${s.codec}${s.profile ? ` (${s.profile})` : ''}`,
        `  resolution  ${s.width}x${s.height}`,
        `  fps         ${s.fps === null ? 'unknown' : s.fps.toFixed(1)}`,
        `  keyframes   ${s.keyframeIntervalS === null ? `fewer than two in ${seconds} s` : `every ${s.keyframeIntervalS.toFixed(1)} s`}`,
        `  bitrate     ${s.bitrateKbps === null ? 'unknown' : `${Math.round(s.bitrateKbps)} kbit/s`}`,
        ...s.advice.map((a) => `  advice: ${a}`),
      ];
      process.stdout.write(lines.join('\n') + '\n');
    });
  });

  camera
    .command('snapshot')
    .description('save one current frame of a camera as a JPEG (to check its view; audited as a consultation)')
    .argument('<id>', 'camera id')
    .requiredOption('-o, --out <file>', 'JPEG file to write')
    .option('--reason <text>', 'why you look (kept in the audit log)')
    .option(...CONFIG_OPTION)
    .action(async (id: string, o: { out: string; reason?: string; config?: string }) => {
      await withCliStore(o.config, async (store) => {
        const target = await service(store).target(id);
        const r = await snapshotCamera(target, o.out, { ffmpeg: store.config.tools.ffmpeg, timeoutS: store.config.cameras.probe_timeout_s });
        store.audit.append({ actor: store.actor, action: 'camera.snapshot', objectIds: [id], justification: o.reason, result: r.ok ? 'ok' : 'error', detail: r.ok ? {} : { problem: r.problem.code } });
        if (!r.ok) throw new HindsightError(`camera ${id}: ${r.problem.message}`, { code: r.problem.code, hint: r.problem.hint });
        process.stdout.write(`wrote ${o.out}\n`);
      });
    });
}
