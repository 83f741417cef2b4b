import { pino, type Logger, type DestinationStream, type LoggerOptions } from 'pino';
import pretty from 'pino-pretty';
import { stdoutIsJournal, withSyslogPriority } from './journald.js';
import { redactString, redactValue } from './redact.js';

export type { Logger } from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LoggerSettings {
  level?: LogLevel;
  /** true: human-readable; false: JSON lines; 'auto': pretty when stdout is a terminal. */
  pretty?: boolean | 'auto';
  /** Where to write; defaults to stdout (journald reads it as JSON lines, each at its priority). */
  destination?: DestinationStream;
  base?: Record<string, unknown>;
  /**
   * Also gets every JSON line the logger writes (the in-memory ring for the force's `get_logs`); what
   * goes to the destination is unchanged.
   */
  tee?: { write(line: string): void };
}

/**
 * JSON lines to stdout for journald, pretty in a terminal. Every object and message passes through
 * the redactor, so a camera URL with credentials or a password in an error never reaches a log.
 */
export function createLogger(settings: LoggerSettings = {}): Logger {
  const options: LoggerOptions = {
    level: settings.level ?? 'info',
    base: settings.base ?? { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      log: (obj) => redactValue(obj) as Record<string, unknown>,
    },
    serializers: {
      err: (err: unknown) => redactValue(err),
      error: (err: unknown) => redactValue(err),
    },
    hooks: {
      logMethod(args, method) {
        const scrubbed = args.map((a) => (typeof a === 'string' ? redactString(a) : a));
        method.apply(this, scrubbed as Parameters<typeof method>);
      },
    },
  };
  const wantPretty = settings.pretty === 'auto' || settings.pretty === undefined ? Boolean(process.stdout.isTTY) : settings.pretty;
  const stdout = (): DestinationStream => {
    const out = pino.destination({ fd: 1, sync: true });
    // under systemd each line carries its priority (`journalctl -p warning` shows warnings and errors)
    return stdoutIsJournal() ? withSyslogPriority(out) : out;
  };
  const destination: DestinationStream = settings.destination
    ?? (wantPretty ? pretty({ colorize: true, sync: true, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }) : stdout());
  if (!settings.tee) return pino(options, destination);
  // both streams take every level: the logger's own level alone decides what is written
  return pino(options, pino.multistream([{ level: 'trace', stream: destination }, { level: 'trace', stream: settings.tee as DestinationStream }]));
}

/** A logger that drops everything (for library use in short CLI commands). */
export const silentLogger: Logger = pino({ level: 'silent' });
