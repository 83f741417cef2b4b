import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { waitFor } from './wait.js';

/** One datagram systemd would have received: its lines (READY=1, WATCHDOG=1, STATUS=...) and when. */
export interface NotifyMessage {
  atMs: number;
  lines: string[];
}

/**
 * A unix datagram socket where systemd's notify socket would be (NOTIFY_SOCKET): the daemon's real
 * `systemd-notify` writes to it, a small Python listener reads it (Node has no unix datagram sockets).
 */
export class NotifySocket {
  readonly path: string;
  readonly messages: NotifyMessage[] = [];
  private child: ChildProcess | undefined;

  constructor(dir: string) {
    this.path = path.join(dir, 'notify.sock');
  }

  async start(): Promise<void> {
    const code = [
      'import socket, sys, json, time',
      'import os',
      's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
      `s.bind(${JSON.stringify(this.path)})`,
      'while True:',
      '    data = s.recv(65536)',
      '    sys.stdout.write(json.dumps(data.decode("utf-8", "replace").split("\\n")) + "\\n")',
      '    sys.stdout.flush()',
    ].join('\n');
    this.child = spawn('python3', ['-c', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buffered = '';
    this.child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        this.messages.push({ atMs: Date.now(), lines: (JSON.parse(line) as string[]).filter(Boolean) });
      }
    });
    await waitFor(() => existsSync(this.path), { timeoutMs: 10_000, what: 'the notify socket' });
  }

  /** Every line received so far, in order. */
  lines(): string[] {
    return this.messages.flatMap((m) => m.lines);
  }

  stop(): void {
    this.child?.kill('SIGKILL');
  }
}
