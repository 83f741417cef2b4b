import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { isatty } from 'node:tty';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { spawnChild } from '../../util/child.js';
import { HindsightError } from '../../util/errors.js';

/**
 * The `hindsight-force` program of this installation. The box never loads the force's code: the old
 * spelling runs that program instead, found beside this module (cli/commands/ -> force/main.js).
 */
const FORCE_MAIN = fileURLToPath(new URL('../../force/main.js', import.meta.url));

/** Signals passed on to the force program, so `hindsight force receive` stops the way it always did. */
const FORWARDED = ['SIGTERM', 'SIGHUP', 'SIGINT'] as const;

/**
 * `hindsight force ...`: the old spelling of the force's commands, kept working but not listed on a shop box
 * (`hindsight --help`); each use says where the command lives now, then runs it there with the same arguments.
 */
export function registerForce(program: Command): void {
  const force = new Command('force')
    .description('the force side (now `hindsight-force`)')
    .argument('[args...]', 'a hindsight-force command and its options')
    // everything after `force` (--help included) is the force program's to read
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (args: string[]) => {
      process.exitCode = await runForceProgram(args);
    });
  program.addCommand(force, { hidden: true });
}

/** Run `hindsight-force ARGS` with this terminal; resolves to its exit code (128 + n when killed by signal n). */
async function runForceProgram(args: string[]): Promise<number> {
  const command = args[0] !== undefined && !args[0].startsWith('-') ? `${args[0]} ...` : '...';
  process.stderr.write(`note: the force's commands are now their own program: hindsight-force ${command} (this spelling keeps working)\n`);
  if (!existsSync(FORCE_MAIN)) {
    throw new HindsightError(`the force program is not in this installation (${FORCE_MAIN})`, { code: 'no_force_program', hint: 'run `npm run build`, or use `hindsight-force` where the force side is installed' });
  }
  const child = spawnChild(process.execPath, [FORCE_MAIN, ...args], { stdio: 'inherit' });
  const forward = (sig: NodeJS.Signals): void => {
    // Ctrl-C at a terminal already reaches the whole foreground group, the force program included: passing
    // it on as well would be a second interrupt, which cuts the receiver's orderly stop short.
    if (sig === 'SIGINT' && isatty(0)) return;
    child.signal(sig);
  };
  for (const sig of FORWARDED) process.on(sig, forward);
  try {
    const exit = await child.exited;
    if (exit.signal) return 128 + (constants.signals[exit.signal] ?? 0);
    return exit.code ?? 1;
  } finally {
    for (const sig of FORWARDED) process.off(sig, forward);
  }
}
