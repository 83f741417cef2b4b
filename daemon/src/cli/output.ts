import { CommanderError } from 'commander';
import { ConfigError } from '../config/load.js';
import { redactString } from '../log/redact.js';
import { HindsightError, UsageError } from '../util/errors.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Print an error the way an operator can act on it, and return the exit code it deserves. */
export function reportError(err: unknown, stderr: NodeJS.WritableStream = process.stderr): number {
  if (err instanceof CommanderError) {
    // commander already printed its message (unknown option, missing argument...)
    return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  }
  if (err instanceof HindsightError) {
    stderr.write(`error: ${redactString(err.message)}\n`);
    if (err.hint) stderr.write(`  what to do: ${redactString(err.hint)}\n`);
    // a request the daemon refused as invalid (HTTP 400) is a usage error too
    const refusedAsInvalid = (err as { status?: number }).status === 400;
    return err instanceof UsageError || err instanceof ConfigError || refusedAsInvalid ? EXIT_USAGE : EXIT_FAILURE;
  }
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  stderr.write(`error: ${redactString(message)}\n`);
  return EXIT_FAILURE;
}

/** Render rows as an aligned plain-text table. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}
