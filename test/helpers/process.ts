import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { descendants as allDescendants } from '../../daemon/src/devkit/process.js';

export { ManagedProcess as TestProcess, stopAllManaged as stopAllTestProcesses, descendants, isAlive } from '../../daemon/src/devkit/process.js';

/**
 * The daemon's recording ffmpeg processes (one per camera): ffmpeg children that write a segment list. A
 * decode check or a probe is an ffmpeg child too, briefly, and is not one of them.
 */
export function recordingFfmpegs(pid: number): number[] {
  return allDescendants(pid).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'ffmpeg' && readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes('-segment_list');
    } catch {
      return false; // it ended meanwhile
    }
  });
}

/** A TCP socket a process holds: the fd it holds it as, its local and remote ports, its state (0A: listening). */
export interface TcpSocket {
  fd: number;
  localPort: number;
  remotePort: number;
  state: string;
}

/** The TCP sockets process `pid` holds (its socket fds matched against /proc/net/tcp and tcp6 by inode). */
export function tcpSockets(pid: number): TcpSocket[] {
  const fdOf = new Map<string, number>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) fdOf.set(m[1]!, Number(fd));
    }
  } catch {
    return []; // it ended meanwhile, or is not ours to read
  }
  const out: TcpSocket[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'latin1').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      const fd = f.length > 9 ? fdOf.get(f[9]!) : undefined;
      if (fd === undefined) continue;
      const port = (endpoint: string): number => parseInt(endpoint.split(':').pop()!, 16);
      out.push({ fd, localPort: port(f[1]!), remotePort: port(f[2]!), state: f[3]! });
    }
  }
  return out;
}
