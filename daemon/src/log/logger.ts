import { pino, type Logger, type DestinationStream, type LoggerOptions } from 'pino';
import pretty from 'pino-pretty';
import { redactString, redactValue } from './redact.js';

export type { Logger } from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LoggerSettings {
  level?: LogLevel;
  /** true: human-readable; false: JSON lines; 'auto': pretty when stdout is a terminal. */
  pretty?: boolean | 'auto';
  /** Where to write; defaults to stdout (journald reads it as JSON lines). */
  destination?: DestinationStream;
  base?: Record<string, unknown>;
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
  if (settings.destination) return pino(options, settings.destination);
  if (wantPretty) return pino(options, pretty({ colorize: true, sync: true, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  return pino(options, pino.destination({ fd: 1, sync: true }));
}

/** A logger that drops everything (for library use in short CLI commands). */
export const silentLogger: Logger = pino({ level: 'silent' });
