import { writeFileSync } from 'node:fs';
import { CommanderError } from 'commander';
import { ConfigError } from '../config/loader.js';
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

/** A file the user named could not be opened or written: say which and why, in words, instead of a stack. */
export function fileProblem(err: unknown, file: string, what = 'write'): HindsightError {
  const code = (err as NodeJS.ErrnoException).code;
  const reason: Record<string, [string, string]> = {
    ENOENT: ['its folder does not exist', 'create the folder first, or give a path in an existing folder'],
    ENOTDIR: ['a part of its path is not a folder', 'check the path'],
    EACCES: ['permission denied', 'choose a place you may write to, or run the command as a user who may'],
    EPERM: ['permission denied', 'choose a place you may write to, or run the command as a user who may'],
    EISDIR: ['it is a folder', 'give a file name, not a folder'],
    EEXIST: ['it already exists', 'give a new name, or remove the old one first'],
    ENOSPC: ['the disk is full', 'free some space or choose another disk'],
    EROFS: ['the file system is read-only', 'choose a writable place'],
    ELOOP: ['it is a symbolic link (files are never written through a link)', 'give the path of a regular file'],
  };
  const [why, hint] = (code && reason[code]) || [(err as Error).message ?? String(err), 'check the path'];
  return new HindsightError(`cannot ${what} ${file}: ${why}`, { code: 'file_error', hint });
}

/** Write a whole output file, turning file-system errors into plain messages. */
export function writeOutputFile(file: string, data: Buffer | string): void {
  try {
    writeFileSync(file, data);
  } catch (err) {
    throw fileProblem(err, file);
  }
}

/**
 * `hindsight audit export | head`: the reader went away. That is the reader's choice, not an error: stop
 * quietly (exit 0) instead of printing EPIPE's stack.
 */
export function quietOnClosedPipe(stream: NodeJS.WriteStream = process.stdout): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT_OK);
    throw err;
  });
}
