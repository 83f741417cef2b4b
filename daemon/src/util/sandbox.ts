import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import path from 'node:path';

/**
 * How programs that parse untrusted camera bytes (ffmpeg, ffprobe) are started (SECURITY.md, finding "ffmpeg's
 * reach"). `bwrap`: inside a bubblewrap sandbox that sees only the system's programs and libraries and the
 * folders named for that run: not the state folder (device key, control token, camera-credential key,
 * database), not the config (broker password), not the systemd credentials, not the daemon's /proc. `off`: as
 * the daemon's own user with its whole view (an explicit choice for machines without bubblewrap).
 */
export type SandboxMode = 'bwrap' | 'off';

export interface SandboxView {
  /** Folders and files the program may write (bound read-write). */
  write?: string[];
  /** Folders and files it may read (bound read-only). */
  read?: string[];
  /** Device nodes it may use (e.g. a GPU's render node), where they exist. */
  devices?: string[];
}

export const BWRAP = '/usr/bin/bwrap';

let systemViewArgs: string[] | undefined;

/** The top-level system folders, each either a symlink into /usr (merged /usr) or a folder to show read-only (read once). */
function systemView(): string[] {
  if (systemViewArgs) return systemViewArgs;
  const args = ['--ro-bind', '/usr', '/usr'];
  for (const top of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    let st;
    try {
      st = lstatSync(top);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) args.push('--symlink', readlinkSync(top), top);
    else if (st.isDirectory()) args.push('--ro-bind', top, top);
  }
  // shared-library lookup (Debian's alternatives hold e.g. libblas for ffmpeg's filters)
  args.push('--ro-bind-try', '/etc/ld.so.cache', '/etc/ld.so.cache', '--ro-bind-try', '/etc/alternatives', '/etc/alternatives');
  systemViewArgs = args;
  return args;
}

/** The command line that starts `command args` in the sandbox `mode` with the given view of the files. */
export function sandboxed(mode: SandboxMode, command: string, args: string[], view: SandboxView = {}): [string, string[]] {
  if (mode === 'off') return [command, args];
  const binds: string[] = [];
  // a program outside /usr (e.g. /opt/ffmpeg/bin/ffmpeg) brings its own folder, read-only
  if (path.isAbsolute(command) && !command.startsWith('/usr/')) binds.push('--ro-bind', path.dirname(command), path.dirname(command));
  // a missing input is the tool's to report, in its own words
  for (const p of view.read ?? []) binds.push('--ro-bind-try', p, p);
  for (const p of view.write ?? []) binds.push('--bind', p, p);
  // a GPU's driver finds itself through sysfs (read-only; only for a job given a device)
  if (view.devices?.length) binds.push('--ro-bind-try', '/sys', '/sys');
  for (const p of view.devices ?? []) binds.push('--dev-bind-try', p, p);
  return [
    BWRAP,
    [
      // its own user (where the kernel allows), mount, pid, ipc and uts namespaces; the network stays (it reads
      // the camera relay on loopback). systemd's RestrictNamespaces= must allow these (systemd/hindsight.service).
      '--unshare-user-try', '--unshare-ipc', '--unshare-pid', '--unshare-uts',
      // killed with the daemon; no terminal to inject keystrokes into
      '--die-with-parent', '--new-session',
      ...systemView(),
      '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp',
      ...binds,
      '--chdir', '/',
      '--',
      command,
      ...args,
    ],
  ];
}

/** The process's policy for media tools that are not given one (the config's tools.sandbox, set at load). */
let policy: SandboxMode = 'bwrap';
export function useSandbox(mode: SandboxMode): void {
  policy = mode;
}

/** `sandboxed` under the process's policy: for an ffmpeg or ffprobe that reads files of camera bytes. */
export function media(command: string, args: string[], view: SandboxView = {}): [string, string[]] {
  return sandboxed(policy, command, args, view);
}

/** Why the sandbox cannot be used here, in plain words, or undefined when it can. */
export function sandboxProblem(mode: SandboxMode): string | undefined {
  if (mode === 'off') return undefined;
  if (!existsSync(BWRAP)) return `the media sandbox needs bubblewrap (${BWRAP}): apt-get install bubblewrap, or set tools.sandbox: off to run ffmpeg with the daemon's own view of the files`;
  return undefined;
}
