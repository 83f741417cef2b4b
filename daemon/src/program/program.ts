import { Command, CommanderError } from 'commander';
import { daemonVersion } from '../config/version.js';
import { UsageError } from '../util/errors.js';
import { ILL_FORMED_HINT, isWellFormedText } from '../util/text.js';
import { EXIT_USAGE, reportError } from './output.js';

/** A program with the house rules: version, help after an error, usage errors exit 2 (never process.exit). */
export function newProgram(name: string, description: string): Command {
  return new Command(name)
    .description(description)
    .showHelpAfterError('(add --help for usage)')
    .showSuggestionAfterError(true)
    .version(`${name} ${daemonVersion()} (node ${process.versions.node})`, '-V, --version', 'print the version');
}

/** Add the `version` command and make every (sub)command throw instead of exiting. */
/** A program's commands, in help order: the top-level names each registers and its module, imported only when needed. */
export type CommandTable = [names: string[], load: () => Promise<(program: Command) => void>][];

/**
 * Register only the command named `only` when it is a known one (its module alone is imported: start-up
 * stays short), else every command (help, version, an unknown name that commander then reports).
 */
export async function registerCommands(program: Command, table: CommandTable, only?: string): Promise<Command> {
  const known = only === 'version' || (only !== undefined && table.some(([names]) => names.includes(only)));
  for (const [names, load] of table) if (!known || names.includes(only!)) (await load())(program);
  return finishProgram(program);
}

export function finishProgram(program: Command): Command {
  program
    .command('version')
    .description('print the version of Hindsight and of the runtime')
    .action(() => {
      process.stdout.write(`${program.name()} ${daemonVersion()} (node ${process.versions.node})\n`);
    });
  const configure = (cmd: Command): void => {
    cmd.exitOverride();
    cmd.commands.forEach(configure);
  };
  configure(program);
  return program;
}

/** Run a program; resolves to the exit code (0 ok, 1 failure, 2 usage). */
export async function runProgram(program: Command, argv: string[]): Promise<number> {
  try {
    const bad = argv.slice(2).findIndex((a) => !isWellFormedText(a));
    if (bad >= 0) throw new UsageError(`argument ${bad + 1} is not valid Unicode text (it holds a lone UTF-16 surrogate)`, { code: 'ill_formed_text', hint: ILL_FORMED_HINT });
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError && (err.code === 'commander.helpDisplayed' || err.code === 'commander.version')) return 0;
    // a command group without its subcommand ('hindsight config') prints help and is a usage error
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_USAGE;
    return reportError(err);
  }
}
