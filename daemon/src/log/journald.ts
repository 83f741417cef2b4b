import { fstatSync } from 'node:fs';
import type { DestinationStream } from 'pino';

/**
 * journald and log priorities. A service's stdout reaches journald as a stream, where a line that begins
 * with `<N>` is stored at syslog priority N (systemd's SyslogLevelPrefix, on by default) with the prefix
 * removed: so `journalctl -p warning` shows the daemon's warnings and errors, and `-o cat` the JSON line
 * as it was written.
 */

/** pino's numeric level -> syslog priority (crit, err, warning, info, debug). */
export function syslogPriority(level: number): number {
  if (level >= 60) return 2;
  if (level >= 50) return 3;
  if (level >= 40) return 4;
  if (level >= 30) return 6;
  return 7;
}

/**
 * Is stdout journald's stream? systemd sets JOURNAL_STREAM to the device and inode of the stream it
 * connected (`dev:ino`); a redirection elsewhere (a file, a pipe to another program) no longer matches.
 */
export function stdoutIsJournal(env: NodeJS.ProcessEnv = process.env, fd = 1): boolean {
  const want = env.JOURNAL_STREAM;
  if (!want) return false;
  try {
    const st = fstatSync(fd);
    return want === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}

/** pino's JSON lines begin with their level (`{"level":30,`). */
const LEVEL = /^\{"level":(\d+)/;

/** A destination that prefixes each JSON line with its syslog priority, for journald. */
export function withSyslogPriority(inner: DestinationStream): DestinationStream {
  return {
    write(line: string): void {
      const m = LEVEL.exec(line);
      inner.write(m ? `<${syslogPriority(Number(m[1]))}>${line}` : line);
    },
  };
}
